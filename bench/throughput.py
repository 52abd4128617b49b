"""Throughput at saturation, drain rate and latency at a fixed rate, for baselines A and B and
mechbus, each measurement on a fresh nats-server, publisher and consumer in this one process."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import nats
from nats.js import JetStreamContext

from bench import bodies as bodies_
from bench.baseline_faststream import LABEL as FASTSTREAM_LABEL
from bench.baseline_faststream import NOTE as FASTSTREAM_NOTE
from bench.baseline_faststream import FastStreamConsumer
from bench.baseline_raw import LABEL as RAW_LABEL
from bench.baseline_raw import NOTE as RAW_NOTE
from bench.baseline_raw import RawConsumer
from bench.bodies import Body
from bench.mechbus_path import LABEL as MECHBUS_LABEL
from bench.mechbus_path import NOTE as MECHBUS_NOTE
from bench.mechbus_path import MechbusConsumer
from bench.timing import Publish, Run, Tracker, at_rate, nats_server, saturate
from bus.domain.streams import StreamSpec
from bus.runtime.jetstream import ensure_stream


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


class Mode(StrEnum):
    SATURATION = "saturation"  # publish with the window while the consumer runs
    DRAIN = "drain"  # the stream filled first (untimed), then the consumer alone
    RATE = "rate"  # publish at a fixed rate while the consumer runs


@dataclass(frozen=True)
class Settings:
    messages: int = 20_000
    repeat: int = 3
    window: int = 256
    rate: float = 200.0
    rate_seconds: float = 15.0
    profile: Path | None = None  # where to write pyinstrument profiles of one mechbus drain


async def _measure(
    row: Row, url: str, bodies: list[Body], mode: Mode, settings: Settings, profile: bool
) -> Run:
    nc = await nats.connect(url, name="bench-publisher")
    try:
        # The same stream for every row: the hub's own definition (file, 10-minute dedup).
        await ensure_stream(nc.jetstream(), StreamSpec(name=bodies_.STREAM))
        publish = row.publisher(nc.jetstream(), bodies)
        tracker = Tracker([b.key for b in bodies])
        if mode is Mode.DRAIN:
            await saturate(publish, len(bodies), settings.window, None)
        watching: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        if profile and settings.profile is not None:
            from bench.profile import HubProfile  # pyinstrument: the optional "bench" extra

            watching = HubProfile(settings.profile)
        async with watching:
            await row.start(url, tracker)
            try:
                if mode is Mode.DRAIN:
                    # From the moment the consumer is ready: startup (the hub declares its
                    # consumers and bucket, A and B one consumer) is not what is compared.
                    # Each row's start only creates its fetch task, which runs after this.
                    tracker.started_all(time.perf_counter())
                elif mode is Mode.SATURATION:
                    await saturate(publish, len(bodies), settings.window, tracker)
                elif mode is Mode.RATE:
                    await at_rate(publish, len(bodies), settings.rate, tracker)
                await tracker.wait(timeout=120 + len(bodies) / 100)
            finally:
                await row.stop()
    finally:
        await nc.close()
    return tracker.run()


def measure(
    name: str, bodies: list[Body], mode: Mode, settings: Settings, profile: bool = False
) -> tuple[Run, dict[str, float] | None]:
    """One measurement of one row on a nats-server of its own, in a fresh event loop; for
    mechbus also the hub's batches and time spent committing."""
    row = ROWS[name]()
    with nats_server() as server:
        run = asyncio.run(_measure(row, server.url, bodies, mode, settings, profile))
    extra, stats = "", None
    if isinstance(row, MechbusConsumer):
        stats = row.stats(run.seconds)
        extra = f", {stats['mean_batch']:.0f}/batch, committing {stats['commit_share']:.0%}"
    latency = "" if mode is Mode.DRAIN else f" p50 {run.p50_ms:>7.1f} ms p99 {run.p99_ms:>7.1f} ms"
    print(
        f"  {mode:<10} {name:<8} {run.messages:>7,} msgs {run.per_second:>8,.0f} msg/s"
        f"{latency}{extra}",
        flush=True,
    )
    return run, stats


def _median(runs: list[Run], field: str) -> float:
    return round(statistics.median(float(getattr(r, field)) for r in runs), 2)


def run(settings: Settings) -> dict[str, Any]:
    """Every row at saturation, in a drain and at the fixed rate, ``repeat`` times each,
    interleaved: drift on a shared machine (others' disk flushes) hits all rows alike."""
    bodies = bodies_.make(settings.messages)
    steady = bodies_.make(max(1, int(settings.rate * settings.rate_seconds)))
    messages = {Mode.SATURATION: bodies, Mode.DRAIN: bodies, Mode.RATE: steady}
    runs: dict[tuple[str, Mode], list[Run]] = {}
    hub_stats: dict[Mode, list[dict[str, float]]] = {mode: [] for mode in Mode}
    for attempt in range(settings.repeat):
        print(
            f"run {attempt + 1} of {settings.repeat} (rate: {settings.rate:g} msg/s "
            f"for {settings.rate_seconds:g} s)",
            flush=True,
        )
        for mode in Mode:
            for name in ROWS:
                done, stats = measure(name, messages[mode], mode, settings)
                runs.setdefault((name, mode), []).append(done)
                if stats is not None:
                    hub_stats[mode].append(stats)
    if settings.profile is not None:  # once, and not counted: sampling slows what it watches
        print("profiling a mechbus drain", flush=True)
        measure("mechbus", bodies, Mode.DRAIN, settings, profile=True)
    rows = []
    for name in ROWS:
        saturated, drained = runs[name, Mode.SATURATION], runs[name, Mode.DRAIN]
        rated = runs[name, Mode.RATE]
        rows.append(
            {
                "row": name,
                "label": LABELS[name],
                "msg_per_s": round(statistics.median(r.per_second for r in saturated), 1),
                "saturation_p50_ms": _median(saturated, "p50_ms"),
                "saturation_p99_ms": _median(saturated, "p99_ms"),
                "drain_msg_per_s": round(statistics.median(r.per_second for r in drained), 1),
                "runs": [asdict(r) | {"msg_per_s": round(r.per_second, 1)} for r in saturated],
                "drain_runs": [
                    {"messages": r.messages, "seconds": r.seconds, "msg_per_s": r.per_second}
                    for r in drained
                ],
                "rate": {
                    "offered_per_s": settings.rate,
                    "messages": len(steady),
                    "p50_ms": _median(rated, "p50_ms"),
                    "p99_ms": _median(rated, "p99_ms"),
                    "runs": [asdict(r) | {"msg_per_s": round(r.per_second, 1)} for r in rated],
                },
            }
        )
    rows[-1]["hub"] = {mode.value: stats for mode, stats in hub_stats.items()}
    return {
        "settings": asdict(settings) | {"profile": str(settings.profile or "")},
        "body_bytes": len(bodies[0].payload),
        "process": "publisher and consumer in one process, one asyncio loop per measurement "
        "(the hub's ledger work runs in its worker thread)",
        "notes": [
            "saturation: first publish to last ack (A), handler return (B) or ledger commit "
            "(mechbus), publishing and consuming together; drain: the same messages published "
            "first, then the consumer alone, from the moment it had started to the last",
            RAW_NOTE,
            FASTSTREAM_NOTE,
            MECHBUS_NOTE,
        ],
        "rows": rows,
    }
