"""How the staff views scale with the record: pending and scorecard at 10k, 100k and 1M requests.

Builds a synthetic ledger in SQLite and, unless it is off, in PostgreSQL (bulk inserts: the
driver's executemany on SQLite, COPY on PostgreSQL; same tables and indexes as production),
growing it in steps, and at each step times:
- ``pending`` (the view ``mechbus pending`` runs) against a baseline: the bare indexed SQL
  query it is built on, run on the driver's own connection in the same process;
- ``scorecard`` for the last 30 days and for all time;
- the monthly report (``mechbus report --month``) of the month going on and of the last one.
The rows are inserted around the hub, so the scorecard's per-day figures are rebuilt after each
step (``mechbus db rebuild-aggregates``), and that is timed too; then the planner's statistics
are refreshed (ANALYZE; VACUUM ANALYZE on PostgreSQL).
Medians of repeated runs; the machine is shared and noisy.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert

from adapters.ledger.aggregates import rebuild
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import CommitmentRow, RecipientRow, RequestRow
from adapters.readmodel.report import write_report
from adapters.readmodel.requests import Filters, pending
from adapters.readmodel.scorecard import state_scores
from adapters.service import compose
from bench import backends as backends_
from bench.backends import SQLITE, Backend
from schemas.registry import AgencyKind, active_registry

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=730)  # two years of requests
KINDS = ("protection_measure", "investigation", "information", "implementation_meeting")


def _agencies() -> list[tuple[str, str]]:
    return [
        (a.id, a.state or "")
        for a in active_registry()
        if a.kind in (AgencyKind.GOVERNMENT, AgencyKind.PROSECUTOR, AgencyKind.COMMISSION)
    ]


def populate(ledger: SqlLedger, start: int, stop: int, rng: random.Random) -> None:
    """Add requests number ``start`` .. ``stop`` - 1, one recipient each; about 5 % are still
    unacknowledged (most recent first), and a quarter carry a commitment."""
    agencies = _agencies()
    chunk = 20_000
    with ledger.engine.begin() as conn:
        for base in range(start, stop, chunk):
            requests, recipients, commitments = [], [], []
            for i in range(base, min(base + chunk, stop)):
                rid = f"BENCH{i:020d}"
                sent = NOW - SPAN * rng.random()
                urgent = rng.random() < 0.2
                ack_due = sent + (timedelta(hours=1) if urgent else timedelta(hours=24))
                agency, state = agencies[i % len(agencies)]
                kind = KINDS[i % len(KINDS)]
                answered = rng.random() > 0.05
                acked = sent + timedelta(hours=rng.expovariate(1 / 12)) if answered else None
                status = "accepted" if answered else ("delivered" if i % 2 else "sent")
                requests.append(
                    {
                        "request_id": rid,
                        "type": f"mech.request.{kind}.v1",
                        "source": "fed.mechanism",
                        "case_ref": f"MPDDHP-{i % 50_000:06d}",
                        "urgency": "urgent" if urgent else "ordinary",
                        "sent_at": sent,
                        "updated_at": acked or sent,
                    }
                )
                recipients.append(
                    {
                        "request_id": rid,
                        "position": 0,
                        "agency": agency,
                        "status": status,
                        "kind": kind,
                        "urgency": "urgent" if urgent else "ordinary",
                        "state": state,
                        "sent_at": sent,
                        "ack_due_at": ack_due,
                        "answer_due_at": sent + timedelta(hours=72),
                        "delivered_at": acked,
                        "acknowledged_at": acked,
                        "acknowledged_by": "Oficialía" if acked else None,
                        "decided_at": acked,
                    }
                )
                if answered and i % 4 == 0:
                    due = sent + timedelta(days=30)
                    kept = rng.random() < 0.7
                    commitments.append(
                        {
                            "request_id": rid,
                            "commitment_id": "C1",
                            "agency": agency,
                            "action": "Rondines",
                            "due": due,
                            "made_at": acked,
                            "status": "fulfilled" if kept else "committed",
                            "ended_at": due - timedelta(days=1) if kept else None,
                        }
                    )
            _insert(conn, RequestRow, requests)
            _insert(conn, RecipientRow, recipients)
            _insert(conn, CommitmentRow, commitments)


def _insert(conn: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (several times faster than its executemany at a million rows),
    the driver's executemany through SQLAlchemy elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(model), rows)
        return
    names = list(rows[0])
    table = model.__table__.name
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])


def _median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm the page cache and the statement cache
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


RAW_PENDING = [
    f"SELECT * FROM request_recipients WHERE status = '{status}' ORDER BY {due} LIMIT 100"
    for status, due in (
        ("sent", "ack_due_at"),
        ("delivered", "ack_due_at"),
        ("acknowledged", "answer_due_at"),
    )
]


def _raw_sql(raw: Any) -> None:
    cursor = raw.cursor()
    for query in RAW_PENDING:
        cursor.execute(query)
        cursor.fetchall()
    cursor.close()


def measure(reports: Path, ledger: SqlLedger, size: int) -> dict[str, Any]:
    raw = ledger.engine.raw_connection()
    try:
        baseline = _median_ms(lambda: _raw_sql(raw), 31)
    finally:
        raw.close()
    with ledger.session() as session:
        view = _median_ms(lambda: pending(session, NOW, Filters(), 100), 31)
        view_state = _median_ms(lambda: pending(session, NOW, Filters(state="GRO"), 100), 31)
        month = _median_ms(
            lambda: state_scores(session, asof=NOW, since=NOW - timedelta(days=30)), 3
        )
        all_time = _median_ms(lambda: state_scores(session, asof=NOW), 1 if size > 100_000 else 3)
        this_month = _median_ms(lambda: write_report(session, "2026-11", reports, NOW), 5)
        last_month = _median_ms(lambda: write_report(session, "2026-10", reports, NOW), 5)
    return {
        "requests": size,
        "pending_ms": round(view, 2),
        "pending_raw_sql_ms": round(baseline, 2),
        "pending_state_filter_ms": round(view_state, 2),
        "scorecard_30_days_ms": round(month, 1),
        "scorecard_all_time_ms": round(all_time, 1),
        "report_this_month_ms": round(this_month, 1),
        "report_last_month_ms": round(last_month, 1),
    }


def run(
    workdir: Path,
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000),
    postgres: str | None = backends_.DEFAULT_POSTGRES,
) -> list[dict[str, Any]]:
    """Every size on SQLite, then on PostgreSQL at ``postgres`` (None: SQLite only; an
    unreachable server is skipped, saying why), in a database made and dropped here."""
    results = _grow(SQLITE, workdir, sizes)
    skipped = "--postgres off" if postgres is None else backends_.unreachable(postgres)
    if skipped is not None:
        print(f"  PostgreSQL rows skipped: {skipped}", flush=True)
        return results
    assert postgres is not None
    with backends_.postgres_database(postgres) as database:
        return results + _grow(database.backend(), workdir, sizes)


def _grow(backend: Backend, workdir: Path, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    print(f"  {backend.title}:", flush=True)
    rng = random.Random(20261129)  # the same requests on every backend
    results = []
    built = 0
    with backend.fresh() as url, _closing(compose.measurement_ledger(url)) as ledger:
        for size in sizes:
            began = time.perf_counter()
            populate(ledger, built, size, rng)
            built = size
            built_s = time.perf_counter() - began
            began = time.perf_counter()
            with ledger.session() as session:
                rebuild(session)
                session.commit()
            rebuilt_s = time.perf_counter() - began
            _analyze(ledger)
            print(
                f"  built {size:>9,} requests in {built_s:.1f}s, "
                f"their scorecard figures in {rebuilt_s:.1f}s",
                flush=True,
            )
            found = measure(workdir / "reports", ledger, size)
            print(
                f"  monthly report: {found['report_this_month_ms']:.1f} ms this month, "
                f"{found['report_last_month_ms']:.1f} ms the last",
                flush=True,
            )
            results.append(
                {
                    "backend": backend.name,
                    **found,
                    "scorecard_periods_rebuild_s": round(rebuilt_s, 1),
                }
            )
    return results


@contextlib.contextmanager
def _closing(ledger: SqlLedger) -> Iterator[SqlLedger]:
    try:
        yield ledger
    finally:
        ledger.close()  # before the backend drops its file or schema


def _analyze(ledger: SqlLedger) -> None:
    """The planner's statistics of the grown tables (VACUUM also sets PostgreSQL's visibility
    map, which index-only scans need; it runs outside a transaction)."""
    statement = "VACUUM ANALYZE" if ledger.engine.dialect.name == "postgresql" else "ANALYZE"
    with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(statement)
