"""The SQL ledger: the federal system of record, on SQLite by default or PostgreSQL by URL."""

from __future__ import annotations

import contextlib
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

from sqlalchemy import event, func
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, SQLModel, col, create_engine, select

from adapters.ledger.lease import (
    LEASE_SECONDS,
    Fenced,
    HubLease,
    Lease,
    LeaseHeld,
    Renewer,
    take_patiently,
)
from adapters.ledger.rows import capacity_from_row, capacity_row_fields
from adapters.ledger.schema import require_head
from adapters.ledger.sealing import Sealer
from adapters.ledger.tables import (
    DeadLetterRow,
    MessageRow,
)
from adapters.ledger.unit import SqlUnit, dead_letter_context
from bus.domain.chain import Break, Link
from bus.domain.chain import verify as verify_links
from bus.domain.ports import (
    LedgerUnavailable,
)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


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
    if "application_name" not in make_url(url).query:
        # pg_stat_activity (and whoever asks which hub wrote what) names the process.
        options.setdefault("connect_args", {"application_name": _application_name()})
    return create_engine(url, **{**(pool or PoolOptions()).engine_options(), **options})


def _application_name() -> str:
    return f"mechbus pid {os.getpid()} on {socket.gethostname()}"[:63]  # PostgreSQL's limit


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
    def hub_lease(
        self, *, seconds: float = LEASE_SECONDS, renew: bool = True
    ) -> Iterator[HubLease]:
        """Be the only hub recording into this ledger, whatever its home, for the ``with``
        block; raise ``LeaseHeld`` naming the holder at once otherwise (a crashed hub of this
        machine's lease is waited out instead). Two hubs on one ledger would interleave rows
        of the hash chain and break it.

        The lease is the ``hub_lease`` row (adapters.ledger.lease): while it is held, every
        commit on this ledger is fenced by its epoch. With ``renew`` a thread renews it; the
        hub renews it from its own loop instead. A private in-memory database has no lease.
        """
        database = make_url(self.url).database
        if self.engine.dialect.name == "sqlite" and database in (None, "", ":memory:"):
            yield HubLease()
            return
        lease = Lease(self.engine, seconds=seconds)
        take_patiently(lease)
        try:
            with Renewer(lease) if renew else contextlib.nullcontext():
                yield lease
        finally:
            lease.release()
            lease.unfence()

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

    def verify_chain(self) -> tuple[int, Break | None, tuple[int, str, str] | None]:
        """Walk the hash chain: how many rows held, the first break (or None), the head."""
        checked, broken = verify_links(self.chain())
        return checked, broken, self.last_link()

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


__all__ = [
    "Fenced",
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
