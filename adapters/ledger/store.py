"""The SQL ledger: the federal system of record, on SQLite by default or PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, func, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, SQLModel, col, create_engine, select

from adapters import locks
from adapters.ledger.rows import capacity_from_row, capacity_row_fields
from adapters.ledger.schema import require_head
from adapters.ledger.sealing import Sealer
from adapters.ledger.tables import (
    DeadLetterRow,
    MessageRow,
)
from adapters.ledger.unit import SqlUnit, dead_letter_context
from bus.domain.chain import Link
from bus.domain.errors import HeldError
from bus.domain.ports import (
    LedgerUnavailable,
)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class LeaseHeld(HeldError, RuntimeError):
    """Another hub is recording into this ledger; the message names it."""


class HubLease:
    """A hub's hold on its ledger. A file lock cannot be lost while its process lives."""

    def check(self) -> None:
        """Raise ``LeaseHeld`` if the lease was lost and another hub has it now."""


@dataclass(frozen=True)
class PoolOptions:
    """The connection pool of a server database (``adapters.settings`` reads it from the env)."""

    size: int = 5  # kept open: the hub's writer, the sweeper and a few views at once
    max_overflow: int = 10  # opened for a burst beyond that, closed again when returned
    timeout: float = 30.0  # seconds to wait for a free connection before failing loudly
    # Seconds; reconnect before a firewall or PgBouncer drops a connection idle for long.
    recycle: int = 1800

    def engine_options(self) -> dict[str, Any]:
        return {
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout,
            "pool_recycle": self.recycle,
            # a connection killed while idle (server restart, failover) is replaced, not used
            "pool_pre_ping": True,
        }


def make_engine(url: str, *, pool: PoolOptions | None = None, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        # One local file: the pool settings of a server database do not apply.
        engine = create_engine(url, connect_args={"check_same_thread": False}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, **{**(pool or PoolOptions()).engine_options(), **options})


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    # WAL lets the CLI read while the hub writes; synchronous=FULL makes each commit durable
    # before the hub acknowledges the delivery to JetStream.
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _wal(cursor: Any, patience: float = 10.0) -> None:
    # Two processes opening a new ledger at once both switch it to WAL, and SQLite answers the
    # second "database is locked" at once, without waiting on busy_timeout. The mode is kept
    # in the file, so the second only has to wait until the first has switched it.
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqlLedger:
    """Implements ``bus.domain.ports.Ledger`` over SQLAlchemy."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = False,
        sealer: Sealer | None = None,
        pool: PoolOptions | None = None,
        **engine_options: Any,
    ) -> None:
        self.url = url
        self.sealer = sealer or Sealer.ephemeral()
        self.engine = make_engine(url, pool=pool, **engine_options)
        # Only a process that owns the ledger migrates it (``mechbus db upgrade``, ``up``, the
        # demo): any other open of a missing or older schema is refused, naming the command.
        try:
            if migrate:
                from adapters.ledger.migrate import upgrade  # Alembic: only for who migrates

                upgrade(self.engine)
            else:
                require_head(self.engine)
        except BaseException:
            self.engine.dispose()  # a refused ledger leaves no connection open behind it
            raise

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def hub_lease(self) -> Iterator[HubLease]:
        """Be the only hub recording into this ledger, whatever its home, for the ``with``
        block; raise ``LeaseHeld`` naming the holder at once otherwise.

        Two hubs on one ledger would interleave rows of the hash chain and break it. SQLite:
        a file lock beside the database file. PostgreSQL: a session advisory lock on a
        connection held for the block, so a hub that dies (or loses its connection) frees it;
        ``HubLease.check`` notices a lost one and takes it back, or raises ``LeaseHeld``.
        """
        if self.engine.dialect.name == "sqlite":
            with _sqlite_lease(self.url):
                yield HubLease()
        else:
            lease = _PgLease(self.engine)
            lease.take()
            try:
                yield lease
            finally:
                lease.release()

    @contextmanager
    def unit(self) -> Iterator[SqlUnit]:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                unit = SqlUnit(session, self.sealer)
                yield unit
                unit.write()
                session.commit()
            except (OperationalError, InterfaceError) as exc:
                # The database is down, restarting or locked: nothing is wrong with the
                # messages, and the hub waits instead of counting it against them.
                with contextlib.suppress(Exception):
                    session.rollback()
                raise LedgerUnavailable(f"ledger unavailable: {type(exc.orig).__name__}") from exc
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session for the views."""
        with Session(self.engine) as session:
            yield session

    def chain(self, batch: int = 5000) -> Iterator[Link]:
        """Every recorded message in recording order, as links of the hash chain."""
        with Session(self.engine) as session:
            query = (
                select(MessageRow).order_by(col(MessageRow.seq)).execution_options(yield_per=batch)
            )
            # Closed even when the caller stops early (verify stops at the first break): on
            # PostgreSQL the rows come from a server-side cursor, not to be left open.
            with contextlib.closing(session.exec(query)) as rows:
                for row in rows:
                    assert row.seq is not None
                    yield Link(
                        row.seq,
                        row.message_id,
                        row.type,
                        row.source,
                        row.nats_subject,
                        row.stream_seq,
                        row.sent_at,
                        row.recorded_at,
                        row.body,
                        row.prev_hash,
                        row.row_hash,
                    )

    def personal(self, message_id: str, source: str) -> Any:
        """The personal details of a recorded message, opened for a federal view (or None).
        Ids are scoped by sender, so the sender is part of the key."""
        with Session(self.engine) as session:
            sealed = session.exec(
                select(MessageRow.personal_sealed).where(
                    MessageRow.message_id == message_id, MessageRow.source == source
                )
            ).first()
        return json.loads(self.sealer.open(sealed, message_id)) if sealed else None

    def dead_letter_body(self, row: DeadLetterRow) -> bytes:
        """The bad input as it was received, opened for whoever investigates it."""
        return self.open_dead_letter(row.body_sealed, row.stream_seq)

    def open_dead_letter(self, sealed: bytes, stream_seq: int) -> bytes:
        return self.sealer.open(sealed, dead_letter_context(stream_seq))

    def last_link(self) -> tuple[int, str, str] | None:
        """(sequence, message id, hash) of the chain's head, for checkpoints."""
        with Session(self.engine) as session:
            row = session.exec(
                select(MessageRow.seq, MessageRow.message_id, MessageRow.row_hash)
                .order_by(col(MessageRow.seq).desc())
                .limit(1)
            ).first()
        return (int(row[0] or 0), row[1], row[2]) if row else None

    def count(self, table: type[SQLModel]) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(table)).one())


@contextmanager
def _sqlite_lease(url: str) -> Iterator[None]:
    database = make_url(url).database
    if not database or database == ":memory:":  # private to this process: nobody to share with
        yield
        return
    path = Path(database).resolve()
    try:
        lock = locks.acquire(path.with_name(path.name + ".hub-lock"))
    except locks.LockHeld as held:
        raise LeaseHeld(
            f"another hub is recording into {path}: {locks.describe(held.holder)}"
        ) from None
    try:
        yield
    finally:
        lock.release()


_HOLDER_NAME = "mechbus hub pid {pid} on {host}"  # fits PostgreSQL's 63-character limit
_DEAD_HOLDER_GRACE = 10.0  # seconds a killed hub's session may take to end on the server


class _HeldByTheDead(LeaseHeld):
    """Held by a session whose hub process, on this machine, no longer exists."""


def _is_dead_hub_here(holder: str) -> bool:
    prefix, _, rest = holder.partition("mechbus hub pid ")
    pid, _, host = rest.partition(" on ")
    if prefix or not pid.isdigit() or not host.startswith(socket.gethostname() + " "):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class _PgLease(HubLease):
    """A session advisory lock, on a connection of its own held for the hub's life."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def take(self) -> None:
        """Take the lock, or raise ``LeaseHeld``. A holder that is a hub of this machine whose
        process is gone is a session the database has not ended yet: wait for it a little."""
        deadline = time.monotonic() + _DEAD_HOLDER_GRACE
        while True:
            try:
                return self._try()
            except _HeldByTheDead:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def _try(self) -> None:
        connection = self.engine.connect()
        try:
            key = _pg_lease_key(connection)
            name = _HOLDER_NAME.format(pid=os.getpid(), host=socket.gethostname())[:63]
            connection.execute(
                text("SELECT set_config('application_name', :name, false)"), {"name": name}
            )
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            if not taken.scalar():
                holder = _pg_holder(connection, key)
                gone = holder is None or _is_dead_hub_here(holder)
                held = _HeldByTheDead if gone else LeaseHeld
                raise held(f"another hub is recording into this ledger: {holder or 'gone now'}")
            connection.commit()  # a session lock: it outlives this transaction, not the session
        except BaseException:
            connection.close()
            raise
        self.connection, self.key = connection, key

    def check(self) -> None:
        """A database restart or a dropped connection frees the lock without a word: look, and
        take it again if it is free (if the database is still away, nobody can record now)."""
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT 1"))
                self.connection.rollback()
                return
            except (OperationalError, InterfaceError):
                with contextlib.suppress(Exception):
                    self.connection.close()
                self.connection = None
        try:
            self.take()
        except (OperationalError, InterfaceError):
            return
        except LeaseHeld as exc:
            lost = "this hub lost its lease on the ledger (its connection dropped)"
            raise LeaseHeld(f"{lost}; {exc}") from None

    def release(self) -> None:
        if self.connection is None:
            return
        with contextlib.suppress(Exception):  # a lost connection has released it already
            self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self.connection.commit()
        with contextlib.suppress(Exception):
            self.connection.close()
        self.connection = None


def _pg_lease_key(connection: Connection) -> int:
    """One key per database and schema: ledgers in different schemas are different ledgers."""
    where = connection.execute(text("SELECT current_database() || '.' || current_schema()"))
    digest = hashlib.blake2b(f"mechbus.hub:{where.scalar()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # a positive bigint


def _pg_holder(connection: Connection, key: int) -> str | None:
    row = connection.execute(
        text(
            "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1"
        ),
        {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
    ).first()
    connection.rollback()
    if row is None:  # it let go between our try and this look
        return None
    return f"{row[0] or 'an unnamed session'} from {row[1] or 'a local socket'} since {row[2]}"


__all__ = [
    "HubLease",
    "LeaseHeld",
    "PoolOptions",
    "SqlLedger",
    "SqlUnit",
    "capacity_from_row",
    "capacity_row_fields",
    "make_engine",
    "sqlite_url",
]
