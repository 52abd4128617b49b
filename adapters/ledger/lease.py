"""The hub's lease on its ledger: the one row of ``hub_lease``, timed by the database's clock and
carrying a fencing epoch, so that one hub records at a time and a paused one that wakes after
another took over can never commit again."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import Engine

from bus.domain.errors import HeldError
from bus.domain.ports import LedgerUnavailable

LEASE_SECONDS = 5.0  # a hub that stops renewing is replaced this long after its last renewal
_NAME = "hub"
_UNFENCED = "mechbus_lease"  # execution option of the lease's own statements: not fenced
# Seconds since the Unix epoch by the database's clock: every hub compares against one clock.
_NOW = {
    "postgresql": "CAST(extract(epoch from clock_timestamp()) AS double precision)",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}


class LeaseHeld(HeldError, RuntimeError):
    """Another hub is recording into this ledger; the message names it."""


class LeaseLost(LeaseHeld):
    """This process held the lease and another hub has taken it over since."""


class Fenced(LedgerUnavailable):
    """A commit refused because this process's lease epoch is no longer the ledger's: another
    hub took over. Nothing is wrong with what was being recorded; the new hub records it."""


@dataclass(frozen=True)
class Holding:
    """The lease as the database has it now."""

    holder: str
    epoch: int
    expires_in: float  # seconds left; negative once it has lapsed

    @property
    def lapsed(self) -> bool:
        return self.expires_in < 0

    def __str__(self) -> str:
        return f"{self.holder or 'nobody'} (epoch {self.epoch})"


def holder_name() -> str:
    return f"mechbus hub pid {os.getpid()} on {socket.gethostname()}"


class HubLease:
    """A hold on the ledger nobody else can share: a private in-memory database's, which has
    nothing to renew."""

    epoch: int | None = None

    def renew(self) -> None:
        """Extend the lease, or raise ``LeaseLost`` naming who has it now."""

    def check(self) -> None:
        self.renew()


class Lease(HubLease):
    """The ``hub_lease`` row of the ledger behind ``engine``, taken by this process.

    While it holds epoch E, every commit on ``engine`` first runs ``UPDATE hub_lease ... WHERE
    epoch = E`` and is refused with ``Fenced`` when no row matches. That UPDATE takes the row's
    lock, as a taker's does, so a commit and a takeover are ordered by the database: a commit
    either lands before the takeover or is refused."""

    def __init__(
        self, engine: Engine, *, seconds: float = LEASE_SECONDS, holder: str | None = None
    ) -> None:
        self.engine = engine
        self.seconds = seconds
        self.holder = holder or holder_name()
        self.epoch: int | None = None
        self._now = _NOW[engine.dialect.name]
        self._fencing = False

    # -- the lease's own statements ------------------------------------------------------

    @contextlib.contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{_UNFENCED: True})
            with connection.begin():
                yield connection

    def _ensure_row(self, connection: Connection) -> None:
        # A ledger made by create_all (tests, old tools) has the table and not the row.
        connection.execute(
            text(
                "INSERT INTO hub_lease (name, holder, epoch, taken_at, expires_at) "
                "VALUES (:name, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING"
            ),
            {"name": _NAME},
        )

    def holding(self) -> Holding | None:
        """Who holds the lease now, as the database says (None before anyone ever took it)."""
        with self._begin() as connection:
            row = connection.execute(
                text(
                    f"SELECT holder, epoch, expires_at - {self._now} FROM hub_lease "
                    "WHERE name = :name"
                ),
                {"name": _NAME},
            ).first()
        return Holding(row[0], int(row[1]), float(row[2])) if row else None

    def take(self) -> int:
        """Take the lease if it has lapsed (or was released), with the next epoch, and fence
        this engine's commits with it; raise ``LeaseHeld`` naming the holder otherwise."""
        with self._begin() as connection:
            self._ensure_row(connection)
            taken = connection.execute(
                text(
                    f"UPDATE hub_lease SET epoch = epoch + 1, holder = :holder, "
                    f"taken_at = {self._now}, expires_at = {self._now} + :seconds "
                    f"WHERE name = :name AND expires_at <= {self._now} RETURNING epoch"
                ),
                {"holder": self.holder, "seconds": self.seconds, "name": _NAME},
            ).scalar()
        if taken is None:
            held = self.holding()
            raise LeaseHeld(f"another hub is recording into this ledger: {held}")
        self.epoch = int(taken)
        self._fence()
        return self.epoch

    def renew(self) -> None:
        """Extend the lease by its length from now, or raise ``LeaseLost`` naming who took it
        over. A lapsed lease nobody took is still this process's: nobody recorded meanwhile."""
        if self.epoch is None:
            raise LeaseLost("this process holds no lease on the ledger")
        with self._begin() as connection:
            renewed = connection.execute(
                text(
                    f"UPDATE hub_lease SET expires_at = {self._now} + :seconds "
                    "WHERE name = :name AND epoch = :epoch"
                ),
                {"seconds": self.seconds, "name": _NAME, "epoch": self.epoch},
            ).rowcount
        if renewed != 1:
            raise LeaseLost(f"this hub lost its lease on the ledger to {self.holding()}")

    def release(self) -> None:
        """Let the lease lapse now (if it is still ours), so the next hub need not wait; this
        engine's commits stay fenced."""
        if self.epoch is None:
            return
        with contextlib.suppress(Exception), self._begin() as connection:  # gone: it lapses
            connection.execute(
                text(
                    f"UPDATE hub_lease SET expires_at = {self._now} "
                    "WHERE name = :name AND epoch = :epoch"
                ),
                {"name": _NAME, "epoch": self.epoch},
            )

    # -- fencing -------------------------------------------------------------------------

    def _fence(self) -> None:
        if not self._fencing:
            event.listen(self.engine, "commit", self._check_before_commit)
            self._fencing = True

    def unfence(self) -> None:
        """Stop checking this engine's commits (the engine is done with hub work)."""
        if self._fencing:
            event.remove(self.engine, "commit", self._check_before_commit)
            self._fencing = False

    def _check_before_commit(self, connection: Connection) -> None:
        """SQLAlchemy's "commit" event, run just before the DBAPI commit: on the same raw
        connection and inside the same transaction as the rows being committed."""
        if self.epoch is None or connection.get_execution_options().get(_UNFENCED):
            return
        epoch = int(self.epoch)  # an int: safe to write into the statement
        raw: Any = connection.connection.dbapi_connection
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(
                    f"UPDATE hub_lease SET epoch = epoch WHERE name = 'hub' AND epoch = {epoch}"
                )
                changed = cursor.rowcount
            finally:
                cursor.close()
        except Exception as exc:  # the database is away: hold, as for any other failure
            _roll_back(raw)
            raise LedgerUnavailable(f"ledger unavailable: {type(exc).__name__}") from exc
        if changed != 1:
            _roll_back(raw)
            raise Fenced(f"commit refused: the ledger's lease is no longer at epoch {epoch}")


def _roll_back(raw: Any) -> None:
    """Roll the refused transaction back here: SQLAlchemy deems a transaction whose commit
    raised already ended and returns its connection to the pool without a rollback, which would
    leave it open (holding SQLite's write lock, or PostgreSQL's row locks)."""
    with contextlib.suppress(Exception):
        raw.rollback()


def take_patiently(lease: Lease) -> int:
    """``lease.take()``; when the holder is a hub of this machine whose process is gone (it
    crashed without releasing), wait for its lease to lapse instead of refusing."""
    while True:
        try:
            return lease.take()
        except LeaseHeld:
            held = lease.holding()
            if held is None or not is_dead_hub_here(held.holder):
                raise
            time.sleep(min(max(held.expires_in, 0.0) + 0.01, 0.25))


def is_dead_hub_here(holder: str) -> bool:
    prefix, _, rest = holder.partition("mechbus hub pid ")
    pid, _, host = rest.partition(" on ")
    if prefix or not pid.isdigit() or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class Renewer:
    """Renews ``lease`` from a thread every quarter of its length, for holders with no loop of
    their own (``mechbus db reindex-people``, the demo). Once it is lost, commits are fenced."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.lost: LeaseHeld | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mechbus-lease", daemon=True)

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.lease.seconds / 4):
            try:
                self.lease.renew()
            except LeaseHeld as exc:
                self.lost = exc
                return
            except Exception:  # the database is away: try again at the next tick
                continue


__all__ = [
    "LEASE_SECONDS",
    "Fenced",
    "Holding",
    "HubLease",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "Renewer",
    "holder_name",
    "is_dead_hub_here",
    "take_patiently",
]
