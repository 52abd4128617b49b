"""A year at national scale played through the real hub: bench.national_scenario's messages
published hour by hour of a simulated clock that the hub (``clock``) and the deadline sweeper
read, each hour waited for until the hub has recorded it, the sweeper run every few simulated
hours so overdue requests climb the ladder; then the ledger measured and every staff view
timed on it (bench.national_views). The hub runs in this process: its RSS is this process's."""

from __future__ import annotations

import asyncio
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
from bench import national_scenario as scenario
from bench import national_views
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


def run(settings: Settings, workdir: Path | None = None) -> dict[str, Any]:
    """The year on a fresh SQLite ledger and nats-server; returns every figure for the JSON."""
    with tempfile.TemporaryDirectory(prefix="mechbus-bench-national-") as tmp:
        work = workdir or Path(tmp)
        registry_file = scenario.write_registry(work / "agencies.toml")
        environment.install_registry({environment.AGENCIES: str(registry_file)})
        try:
            return _measure(settings, work)
        finally:
            use_registry(None)  # the shipped registry again, for whatever runs next


def _measure(settings: Settings, work: Path) -> dict[str, Any]:
    config = scenario.Settings(seed=settings.seed, days=settings.days)
    year = scenario.Year(active_registry(), config)
    db = work / "ledger.db"
    ledger = compose.measurement_ledger(sqlite_url(db))
    try:
        with nats_server() as server:
            played = asyncio.run(_run(server.url, ledger, year, settings))
        figures = ledger_figures(ledger)
        ledger_bytes = sum(p.stat().st_size for p in work.glob("ledger.db*"))
        print(f"timing every staff view (median of {settings.repeat}):", flush=True)
        timed = national_views.time_all(ledger, config.end, work / "reports", settings.repeat)
    finally:
        ledger.close()
    return {
        "backend": "sqlite",
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
