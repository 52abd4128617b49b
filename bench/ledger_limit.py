"""Baseline L, the ledger's own limit: the very rows the hub's ledger unit inserts for each
request, built once in memory, then inserted as the unit writes them (sqlite3's
``executemany``; psycopg's COPY), one transaction per batch of 256, on the ledger's own
connection settings; no NATS, no decoding, no lookups, no ORM."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from adapters.ledger import rows as rows_module
from adapters.ledger.rows import copy_rows
from adapters.ledger.store import SqlLedger
from adapters.service import compose
from bench.backends import Backend
from bench.bodies import Body
from bench.timing import percentile
from bus.domain.policy import Policy
from bus.domain.ports import Delivery
from bus.domain.recording import Result, record_batch
from bus.domain.rules import Rules
from schemas.registry import active_registry

NOTE = (
    "L: the rows the hub's ledger unit inserts for each request (request, recipient, message "
    "with its hash-chain link and sealed personal fields when the body has any, its search "
    "text), captured from the real unit recording the same bodies, then inserted with the "
    "driver's executemany (on PostgreSQL, COPY, as the unit writes them), one transaction per "
    "256 messages, on the ledger's own connection "
    "(SQLite WAL + synchronous=FULL; PostgreSQL synchronous_commit=on)"
)
BATCH = 256

# One transaction: each INSERT statement of the unit with the parameters of all its rows.
Transaction = list[tuple[str, list[Any]]]


@dataclass(frozen=True)
class Rows:
    """What the ledger unit inserted for ``messages`` requests, transaction by transaction."""

    messages: int
    transactions: list[Transaction]

    def tables(self) -> dict[str, int]:
        """Rows per table (the first word after INSERT INTO), for the report."""
        counts: dict[str, int] = {}
        for transaction in self.transactions:
            for statement, params in transaction:
                words = statement.split()  # INSERT INTO <table> ... or COPY <table> ...
                table = words[1] if words[0].upper() == "COPY" else words[2]
                counts[table] = counts.get(table, 0) + len(params)
        return counts


def capture(backend: Backend, bodies: list[Body], batch: int = BATCH) -> Rows:
    """Record ``bodies`` through ``bus.domain.recording`` and the real ledger unit, on a
    scratch ledger of ``backend``, ``batch`` to a transaction, keeping every INSERT exactly as
    the driver received it."""
    transactions: list[Transaction] = []

    def keep(
        _conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            transactions[-1].append((statement, list(params) if many else [params]))

    def copied(
        connection: Any, table: str, keys: tuple[str, ...], rows: list[dict[str, Any]]
    ) -> None:
        # PostgreSQL's rows go in a COPY, which no cursor event sees.
        statement = f"COPY {table} ({', '.join(keys)}) FROM STDIN"
        transactions[-1].append((statement, [[row[key] for key in keys] for row in rows]))
        copy_rows(connection, table, keys, rows)

    rules = Rules(active_registry(), Policy.load())
    stored = datetime.now(UTC)
    with backend.fresh() as url, _copies_through(copied):
        ledger = compose.measurement_ledger(url)
        try:
            event.listen(ledger.engine, "before_cursor_execute", keep)
            for start in range(0, len(bodies), batch):
                transactions.append([])
                deliveries = [
                    Delivery(body.subject, body.payload, start + i + 1, stored_at=stored)
                    for i, body in enumerate(bodies[start : start + batch])
                ]
                _check(record_batch(ledger, deliveries, None, rules))
        finally:
            ledger.close()
    return Rows(len(bodies), transactions)


@contextlib.contextmanager
def _copies_through(copied: Callable[..., None]) -> Iterator[None]:
    """The ledger's COPYs go through ``copied`` meanwhile (the unit calls ``rows.copy_rows``)."""
    original = rows_module.copy_rows
    rows_module.copy_rows = copied
    try:
        yield
    finally:
        rows_module.copy_rows = original


def _check(outcomes: list[Any]) -> None:
    refused = [o for o in outcomes if o.result is not Result.RECORDED]
    if refused:
        raise RuntimeError(f"the ledger refused {len(refused)} benchmark requests")


def insert(ledger: SqlLedger, rows: Rows) -> float:
    """Seconds to insert ``rows`` into ``ledger`` (a fresh SqlLedger), transaction by
    transaction, through the driver's own connection and ``executemany``."""
    return sum(commits(ledger, rows))


def commits(ledger: SqlLedger, rows: Rows) -> list[float]:
    """Seconds each transaction of ``rows`` took, from its first statement to its commit's
    return, through the driver's own connection and ``executemany`` (or COPY)."""
    raw = ledger.engine.raw_connection()
    taken = []
    try:
        connection = raw.driver_connection
        assert connection is not None  # a live pooled connection always has its driver's
        cursor = connection.cursor()
        for transaction in rows.transactions:
            began = time.perf_counter()
            for statement, params in transaction:
                if statement.startswith("COPY"):
                    with cursor.copy(statement) as copy:
                        for values in params:
                            copy.write_row(values)
                else:
                    cursor.executemany(statement, params)
            connection.commit()
            taken.append(time.perf_counter() - began)
        cursor.close()
    finally:
        raw.close()
    return taken


FLOOR_NOTE = (
    "L1: the same rows one request a transaction, each committed durably before the next: the "
    "time a lone request's rows take to be safe on this disk, below which no durable hub's "
    "latency can go (its p50 and p99 over the fixed rate's requests)"
)


def floor(backend: Backend, rows: Rows) -> tuple[float, float]:
    """p50 and p99 in ms of committing ``rows`` (captured one request a transaction) into a
    fresh, migrated ledger of ``backend``."""
    with backend.fresh() as url:
        ledger = compose.measurement_ledger(url)
        try:
            taken = sorted(1000 * t for t in commits(ledger, rows))
        finally:
            ledger.close()
    p50, p99 = percentile(taken, 0.5), percentile(taken, 0.99)
    print(
        f"  {'ledger':<10} {'L1 ' + backend.name:<8} {len(taken):>7,} commits "
        f"p50 {p50:.2f} ms p99 {p99:.2f} ms",
        flush=True,
    )
    return p50, p99


def measure(backend: Backend, rows: Rows) -> float:
    """Messages a second for one insert of ``rows`` into a fresh, migrated ledger of
    ``backend`` (made before the clock starts, as the hub's is)."""
    with backend.fresh() as url:
        ledger = compose.measurement_ledger(url)
        try:
            seconds = insert(ledger, rows)
        finally:
            ledger.close()
    per_second = rows.messages / seconds
    print(
        f"  {'ledger':<10} {'L ' + backend.name:<8} {rows.messages:>7,} msgs "
        f"{per_second:>8,.0f} msg/s",
        flush=True,
    )
    return per_second


def summary(backend: Backend, rows: Rows, runs: list[float]) -> dict[str, Any]:
    return {
        "row": "L",
        "backend": backend.name,
        "label": f"L  executemany, {backend.title}",
        "messages": rows.messages,
        "batch": BATCH,
        "rows_per_table": rows.tables(),
        "msg_per_s": round(statistics.median(runs), 1),
        "runs": [round(r, 1) for r in runs],
    }
