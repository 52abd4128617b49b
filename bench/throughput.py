"""Throughput at saturation and latency at a fixed rate, for baselines A and B and mechbus,
each measurement on a fresh nats-server, publisher and consumer in this one process."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import nats
from nats.js import JetStreamContext

from bench import bodies as bodies_
from bench.baseline_faststream import LABEL as FASTSTREAM_LABEL
from bench.baseline_faststream import NOTE as FASTSTREAM_NOTE
from bench.baseline_faststream import FastStreamConsumer
from bench.baseline_raw import LABEL as RAW_LABEL
from bench.baseline_raw import RawConsumer
from bench.bodies import Body
from bench.mechbus_path import LABEL as MECHBUS_LABEL
from bench.mechbus_path import MechbusConsumer
from bench.timing import Publish, Run, Tracker, at_rate, nats_server, saturate
from bus.jetstream import ensure_stream
from bus.streams import StreamSpec


class Row(Protocol):
    label: str

    def publisher(self, js: JetStreamContext, bodies: list[Body]) -> Publish: ...
    async def start(self, url: str, tracker: Tracker) -> None: ...
    async def stop(self) -> None: ...


ROWS: dict[str, Callable[[], Row]] = {
    "A": RawConsumer,
    "B": FastStreamConsumer,
    "mechbus": MechbusConsumer,
}
LABELS = {"A": RAW_LABEL, "B": FASTSTREAM_LABEL, "mechbus": MECHBUS_LABEL}


@dataclass(frozen=True)
class Settings:
    messages: int = 20_000
    repeat: int = 3
    window: int = 256
    rate: float = 200.0
    rate_seconds: float = 15.0
    profile: Path | None = None  # where to write pyinstrument profiles of one mechbus run


async def _measure(
    row: Row,
    url: str,
    bodies: list[Body],
    drive: Callable[[Publish, Tracker], Any],
    profile: Path | None,
) -> Run:
    nc = await nats.connect(url, name="bench-publisher")
    try:
        # The same stream for every row: the hub's own definition (file, 10-minute dedup).
        await ensure_stream(nc.jetstream(), StreamSpec(name=bodies_.STREAM))
        tracker = Tracker([b.key for b in bodies])
        await row.start(url, tracker)
        watching: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        if profile is not None:
            from bench.profile import HubProfile  # pyinstrument: the optional "bench" extra

            watching = HubProfile(profile)
        try:
            async with watching:
                await drive(row.publisher(nc.jetstream(), bodies), tracker)
                await tracker.wait(timeout=120 + len(bodies) / 100)
        finally:
            await row.stop()
    finally:
        await nc.close()
    return tracker.run()


def measure(
    name: str,
    bodies: list[Body],
    drive: Callable[[Publish, Tracker], Any],
    profile: Path | None = None,
) -> tuple[Run, dict[str, float] | None]:
    """One measurement of one row on a nats-server of its own, in a fresh event loop; for
    mechbus also the hub's batches and time spent committing."""
    row = ROWS[name]()
    with nats_server() as server:
        run = asyncio.run(_measure(row, server.url, bodies, drive, profile))
    extra, stats = "", None
    if isinstance(row, MechbusConsumer):
        stats = row.stats(run.seconds)
        extra = f", {stats['mean_batch']:.0f}/batch, committing {stats['commit_share']:.0%}"
    print(
        f"  {name:<8} {run.messages:>7,} msgs {run.per_second:>8,.0f} msg/s "
        f"p50 {run.p50_ms:>7.1f} ms p99 {run.p99_ms:>7.1f} ms{extra}",
        flush=True,
    )
    return run, stats


def run(settings: Settings) -> dict[str, Any]:
    """Every row at saturation ``repeat`` times (interleaved, so drift on a shared machine
    hits all rows alike), then every row once at the fixed rate."""
    saturating = bodies_.make(settings.messages)
    steady = bodies_.make(max(1, int(settings.rate * settings.rate_seconds)))
    runs: dict[str, list[Run]] = {name: [] for name in ROWS}
    hub_stats: list[dict[str, float]] = []

    def at_saturation(publish: Publish, tracker: Tracker) -> Any:
        return saturate(publish, settings.messages, settings.window, tracker)

    def at_fixed_rate(publish: Publish, tracker: Tracker) -> Any:
        return at_rate(publish, len(steady), settings.rate, tracker)

    for attempt in range(settings.repeat):
        print(f"saturation, run {attempt + 1} of {settings.repeat}", flush=True)
        for name in ROWS:
            # Profiled (if asked) once, and not counted: sampling slows what it watches.
            if attempt == 0 and name == "mechbus" and settings.profile is not None:
                measure(name, saturating, at_saturation, settings.profile)
            done, stats = measure(name, saturating, at_saturation)
            runs[name].append(done)
            if stats is not None:
                hub_stats.append(stats)
    print(f"fixed rate: {settings.rate:g} msg/s for {settings.rate_seconds:g} s", flush=True)
    rated = {name: measure(name, steady, at_fixed_rate)[0] for name in ROWS}
    rows = []
    for name in ROWS:
        rows.append(
            {
                "row": name,
                "label": LABELS[name],
                "msg_per_s": round(statistics.median(r.per_second for r in runs[name]), 1),
                "saturation_p50_ms": round(statistics.median(r.p50_ms for r in runs[name]), 2),
                "saturation_p99_ms": round(statistics.median(r.p99_ms for r in runs[name]), 2),
                "runs": [asdict(r) | {"msg_per_s": round(r.per_second, 1)} for r in runs[name]],
                "rate": asdict(rated[name])
                | {"offered_per_s": settings.rate, "msg_per_s": round(rated[name].per_second, 1)},
            }
        )
    rows[-1]["hub"] = hub_stats
    return {
        "settings": asdict(settings) | {"profile": str(settings.profile or "")},
        "body_bytes": len(saturating[0].payload),
        "process": "publisher and consumer in one process, one asyncio loop per measurement "
        "(the hub's ledger work runs in its worker thread)",
        "notes": [FASTSTREAM_NOTE],
        "rows": rows,
    }
