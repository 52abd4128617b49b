"""A year at national scale played through the real hub: bench.national_scenario's messages
published hour by hour of a simulated clock that the hub (``clock``) and the deadline sweeper
read, each hour waited for until the hub has recorded it, the sweeper run every few simulated
hours so overdue requests climb the ladder; then the ledger measured and every staff view
timed on it (bench.national_views). The hub runs in this process: its RSS is this process's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlmodel import SQLModel

from adapters import environment
from adapters.ledger.obligations import SqlObligations
from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.ledger.tables import DeadLetterRow, EscalationRow, MessageRow, RequestRow
from adapters.service import compose
from bench import backends, national_views
from bench import national_scenario as scenario
from bench.memory import status_kib
from bench.timing import nats_server
from bus.domain.streams import HUB_DURABLE
from bus.runtime import publishing
from bus.runtime.hub import Hub
from bus.runtime.sweeper import Sweeper
from schemas.registry import active_registry, use_registry

SETTLE_SECONDS = 120.0  # the longest the hub may take over one simulated hour
WARMUP_DAYS = 7  # RSS is read first after this much of the year


class SimClock:
    """The simulated time the hub and the sweeper read; this benchmark moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Settings:
    days: int = 365
    sweep_hours: float = 6.0
    seed: int = scenario.Settings.seed
    repeat: int = 5  # timings of each view
    postgres: str | None = None  # the server to make the ledger's database on; None: SQLite


class Player:
    """Publishes the year's hours in order and keeps the hub and the sweeper on its clock."""

    def __init__(self, hub: Hub, sweeper: Sweeper, clock: SimClock, js: JetStreamContext):
        self.hub, self.sweeper, self.clock, self.js = hub, sweeper, clock, js
        self.published = 0
        self.sweeps = 0
        self.bytes = 0
        # where the wall time went: publishing (PubAcks), waiting for the hub, sweeping
        self.seconds = {"publish": 0.0, "settle": 0.0, "sweep": 0.0}

    async def settle(self) -> None:
        """Until the hub has recorded (and acked) everything on its consumer, by a deadline."""
        began = time.monotonic()
        deadline = began + SETTLE_SECONDS
        while True:
            info = await self.js.consumer_info(self.hub.stream.name, HUB_DURABLE)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                self.seconds["settle"] += time.monotonic() - began
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not record an hour in {SETTLE_SECONDS:.0f}s")
            await asyncio.sleep(0.002)  # a poll, not a wait for something to happen

    async def hour(self, at: datetime, batch: list[scenario.Planned]) -> None:
        self.clock.now = at
        began = time.monotonic()
        for planned in batch:
            copies = await publishing.publish_message(
                self.hub.transport, planned.message, copy_ids=self.hub.copy_ids
            )
            self.published += 1
            self.bytes += len(planned.message.to_json()) * len(copies)
        self.seconds["publish"] += time.monotonic() - began
        await self.settle()

    async def sweep(self, at: datetime) -> None:
        self.clock.now = at
        began = time.monotonic()
        await self.sweeper.sweep_once()
        self.seconds["sweep"] += time.monotonic() - began
        self.sweeps += 1
        await self.settle()


async def _play(year: scenario.Year, player: Player, settings: Settings) -> dict[str, Any]:
    interval = timedelta(hours=settings.sweep_hours)
    next_sweep = year.start + interval
    warm = year.start + timedelta(days=WARMUP_DAYS)
    rss_start: int | None = None
    batch: list[scenario.Planned] = []
    slot: datetime | None = None
    began = time.perf_counter()
    shown = began
    for planned in year.messages():
        hour = planned.at.replace(minute=0, second=0, microsecond=0)
        if slot is not None and hour != slot:
            await player.hour(batch[-1].at, batch)
            batch = []
        while next_sweep <= hour:
            await player.sweep(next_sweep)
            next_sweep += interval
        if rss_start is None and hour >= warm:
            rss_start = status_kib(os.getpid(), "VmRSS")
        slot = hour
        batch.append(planned)
        if time.perf_counter() - shown > 30:
            shown = time.perf_counter()
            print(f"  {hour:%Y-%m-%d}: {player.published:,} published", flush=True)
    if batch:
        await player.hour(batch[-1].at, batch)
    while next_sweep <= year.s.end:
        await player.sweep(next_sweep)
        next_sweep += interval
    seconds = time.perf_counter() - began
    end = status_kib(os.getpid(), "VmRSS")
    return {
        "wall_s": round(seconds, 1),
        "published": player.published,
        "msg_per_s": round(player.published / seconds, 1),
        "sweeps": player.sweeps,
        "escalations_sent": player.sweeper.sent,
        "payload_bytes": player.bytes,
        "seconds_in": {k: round(v, 1) for k, v in player.seconds.items()},
        "rss_start_kib": rss_start or end,
        "rss_end_kib": end,
        "rss_peak_kib": status_kib(os.getpid(), "VmHWM"),
    }


async def _run(
    url: str, ledger: SqlLedger, year: scenario.Year, settings: Settings
) -> dict[str, Any]:
    clock = SimClock(year.start)
    hub = compose.hub(None, ledger, url, clock=clock)
    await hub.start()
    nc = await nats.connect(url, name="bench-national")
    try:
        sweeper = Sweeper(
            SqlObligations(ledger),
            hub.transport,
            policy=hub.policy,
            clock=clock,
            copy_ids=hub.copy_ids,
        )
        player = Player(hub, sweeper, clock, nc.jetstream())
        played = await _play(year, player, settings)
        stream = await nc.jetstream().stream_info(hub.stream.name)
        played["jetstream"] = {"messages": stream.state.messages, "bytes": stream.state.bytes}
        return played
    finally:
        await nc.close()
        await hub.stop()


def ledger_figures(ledger: SqlLedger) -> dict[str, Any]:
    with ledger.session() as session:
        rows = {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in sorted(SQLModel.metadata.tables.items())
        }
        reasons = session.execute(
            select(DeadLetterRow.reason, func.count()).group_by(DeadLetterRow.reason)  # type: ignore[arg-type]
        ).all()
        requests = session.execute(select(func.count()).select_from(RequestRow)).scalar_one()
        messages = session.execute(select(func.count()).select_from(MessageRow)).scalar_one()
        rungs = session.execute(select(func.count()).select_from(EscalationRow)).scalar_one()
    return {
        "requests": requests,
        "messages": messages,
        "escalations": rungs,
        "dead_letters": {str(reason): int(n) for reason, n in reasons},
        "rows_per_table": {name: n for name, n in rows.items() if n},
    }


def storage(ledger: SqlLedger) -> dict[str, int]:
    """Bytes the ledger's tables and their indexes take in the database's own pages."""
    with ledger.engine.connect() as conn:
        if ledger.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT sum(CASE WHEN m.type = 'index' THEN d.pgsize ELSE 0 END), "
                "sum(CASE WHEN m.type = 'index' THEN 0 ELSE d.pgsize END) "
                "FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name"
            ).one()
        else:
            rows = conn.exec_driver_sql(
                "SELECT sum(pg_indexes_size(c.oid)), sum(pg_total_relation_size(c.oid)) "
                "- sum(pg_indexes_size(c.oid)) FROM pg_class c "
                "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
            ).one()
    index, table = (int(x or 0) for x in rows)
    return {"index_bytes": index, "table_bytes": table}


def run(settings: Settings, workdir: Path | None = None) -> dict[str, Any]:
    """The year on a fresh ledger (SQLite; PostgreSQL with ``settings.postgres``, in a
    database made for it and dropped after) and nats-server; every figure for the JSON."""
    with contextlib.ExitStack() as stack:
        work = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        registry_file = scenario.write_registry(work / "agencies.toml")
        environment.install_registry({environment.AGENCIES: str(registry_file)})
        stack.callback(use_registry, None)  # the shipped registry again, for what runs next
        url, backend, name = sqlite_url(work / "ledger.db"), "sqlite", None
        if settings.postgres is not None:
            database = stack.enter_context(backends.postgres_database(settings.postgres))
            url, backend = stack.enter_context(database.schema()), "postgresql"
            name = database.name
            print(f"  ledger on PostgreSQL, database {name} (dropped at the end)")
        return _measure(settings, work, url) | {"backend": backend, "database": name}


def _measure(settings: Settings, work: Path, url: str) -> dict[str, Any]:
    config = scenario.Settings(seed=settings.seed, days=settings.days)
    year = scenario.Year(active_registry(), config)
    ledger = compose.measurement_ledger(url)
    try:
        with nats_server() as server:
            played = asyncio.run(_run(server.url, ledger, year, settings))
        figures = ledger_figures(ledger) | storage(ledger)
        ledger_bytes = sum(p.stat().st_size for p in work.glob("ledger.db*"))
        if settings.postgres is not None:
            ledger_bytes = figures["index_bytes"] + figures["table_bytes"]
        print(f"timing every staff view (median of {settings.repeat}):", flush=True)
        timed = national_views.time_all(ledger, config.end, work / "reports", settings.repeat)
    finally:
        ledger.close()
    return {
        "settings": {
            "days": settings.days,
            "sweep_hours": settings.sweep_hours,
            "seed": settings.seed,
            "people": config.people,
            "intake_per_week": list(config.intake),
            "review_days": list(config.review_days),
            "states": len(year.states),
            "shelters": len(year.shelters),
            "start": year.start.isoformat(),
            "end": config.end.isoformat(),
        },
        "profiles": year.profile_use(),
        "generated": {"messages": sum(year.counts.values()), "requests": year.requests},
        "generated_by_type": dict(sorted(year.counts.items())),
        **played,
        "ledger": figures,
        "ledger_bytes": ledger_bytes,
        "views": timed,
    }
