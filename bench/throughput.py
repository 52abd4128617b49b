"""Throughput at saturation, drain rate and latency at a fixed rate, for baselines A and B and
mechbus, each measurement on a fresh nats-server, publisher and consumer in this one process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import nats
from nats.js import JetStreamContext
from sqlalchemy import make_url

from bench import backends as backends_
from bench import bodies as bodies_
from bench import ledger_limit
from bench.backends import SQLITE, Backend
from bench.baseline_faststream import LABEL as FASTSTREAM_LABEL
from bench.baseline_faststream import NOTE as FASTSTREAM_NOTE
from bench.baseline_faststream import FastStreamConsumer
from bench.baseline_raw import LABEL as RAW_LABEL
from bench.baseline_raw import NOTE as RAW_NOTE
from bench.baseline_raw import RawConsumer
from bench.bodies import Body
from bench.mechbus_path import NOTE as MECHBUS_NOTE
from bench.mechbus_path import MechbusConsumer
from bench.mechbus_path import label as mechbus_label
from bench.timing import Publish, Run, Tracker, at_rate, nats_server, saturate
from bus.domain.streams import StreamSpec
from bus.runtime.jetstream import ensure_stream


class Row(Protocol):
    label: str

    def publisher(self, js: JetStreamContext, bodies: list[Body]) -> Publish: ...
    async def start(self, url: str, tracker: Tracker) -> None: ...
    async def stop(self) -> None: ...


BASELINES: dict[str, Callable[[], Row]] = {"A": RawConsumer, "B": FastStreamConsumer}
LABELS = {"A": RAW_LABEL, "B": FASTSTREAM_LABEL}


def mechbus_row(backend: Backend) -> str:
    """The row's name in the JSON: ``mechbus`` on SQLite, ``mechbus-postgresql`` beside it."""
    return "mechbus" if backend is SQLITE else f"mechbus-{backend.name}"


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
    # The server where the benchmark makes its PostgreSQL database; None: SQLite only.
    postgres: str | None = backends_.DEFAULT_POSTGRES


async def _measure(
    name: str,
    row: Row,
    url: str,
    bodies: list[Body],
    mode: Mode,
    settings: Settings,
    profile: bool,
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

            watching = HubProfile(settings.profile, name)
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
    name: str,
    make: Callable[[], Row],
    bodies: list[Body],
    mode: Mode,
    settings: Settings,
    profile: bool = False,
) -> tuple[Run, dict[str, float] | None]:
    """One measurement of one row on a nats-server of its own, in a fresh event loop; for
    mechbus also the hub's batches and time spent committing."""
    row = make()
    with nats_server() as server:
        run = asyncio.run(_measure(name, row, server.url, bodies, mode, settings, profile))
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
    interleaved: drift on a shared machine (others' disk flushes) hits all rows alike. The
    mechbus and L rows once per ledger backend: SQLite, and PostgreSQL unless it is off or
    unreachable (skipped, saying why), in a database made for the run and dropped after it."""
    backends = [SQLITE]
    postgres: dict[str, Any] = {"database": None, "skipped": "--postgres off"}
    with contextlib.ExitStack() as stack:
        if settings.postgres is not None:
            postgres["server"] = repr(make_url(settings.postgres))  # the password masked
            postgres["skipped"] = backends_.unreachable(settings.postgres)
            if postgres["skipped"] is None:
                database = stack.enter_context(backends_.postgres_database(settings.postgres))
                postgres["database"] = database.name
                backends.append(database.backend())
                print(f"PostgreSQL rows in database {database.name}, dropped at the end")
        if postgres["skipped"] is not None:
            print(f"PostgreSQL rows skipped: {postgres['skipped']}", flush=True)
        result = _run(settings, backends)
    return result | {"postgres": postgres}


def _run(settings: Settings, backends: list[Backend]) -> dict[str, Any]:
    bodies = bodies_.make(settings.messages)
    steady = bodies_.make(max(1, int(settings.rate * settings.rate_seconds)))
    messages = {Mode.SATURATION: bodies, Mode.DRAIN: bodies, Mode.RATE: steady}
    makers = dict(BASELINES)
    labels = dict(LABELS)
    for backend in backends:
        makers[mechbus_row(backend)] = functools.partial(MechbusConsumer, backend)
        labels[mechbus_row(backend)] = mechbus_label(backend)
    # L's rows are built once (untimed) from the same bodies, then inserted in each run.
    limit_rows = {b.name: ledger_limit.capture(b, bodies) for b in backends}
    limits: dict[str, list[float]] = {b.name: [] for b in backends}
    # L1: the fixed rate's requests, one a transaction: the durable commit's own latency.
    floor_rows = {b.name: ledger_limit.capture(b, steady, batch=1) for b in backends}
    floors: dict[str, list[tuple[float, float]]] = {b.name: [] for b in backends}
    runs: dict[tuple[str, Mode], list[Run]] = {}
    hub_stats: dict[str, dict[Mode, list[dict[str, float]]]] = {}
    for attempt in range(settings.repeat):
        print(
            f"run {attempt + 1} of {settings.repeat} (rate: {settings.rate:g} msg/s "
            f"for {settings.rate_seconds:g} s)",
            flush=True,
        )
        for backend in backends:
            limits[backend.name].append(ledger_limit.measure(backend, limit_rows[backend.name]))
            floors[backend.name].append(ledger_limit.floor(backend, floor_rows[backend.name]))
        for mode in Mode:
            for name, make in makers.items():
                done, stats = measure(name, make, messages[mode], mode, settings)
                runs.setdefault((name, mode), []).append(done)
                if stats is not None:
                    hub_stats.setdefault(name, {m: [] for m in Mode})[mode].append(stats)
    if settings.profile is not None:  # once, and not counted: sampling slows what it watches
        for backend in backends:
            name = mechbus_row(backend)
            print(f"profiling a {name} drain", flush=True)
            measure(name, makers[name], bodies, Mode.DRAIN, settings, profile=True)
    limit = [
        ledger_limit.summary(b, limit_rows[b.name], limits[b.name])
        | {
            "floor_p50_ms": round(statistics.median(p50 for p50, _ in floors[b.name]), 2),
            "floor_p99_ms": round(statistics.median(p99 for _, p99 in floors[b.name]), 2),
            "floor_commits": len(steady),
        }
        for b in backends
    ]
    rows = [_row(name, labels[name], runs, settings, len(steady)) for name in makers]
    by_name = {r["row"]: r for r in rows}
    for backend, l_row in zip(backends, limit, strict=True):
        row = by_name[mechbus_row(backend)]
        row["backend"] = backend.name
        row["hub"] = {mode.value: stats for mode, stats in hub_stats[row["row"]].items()}
        drain = row["drain_msg_per_s"]
        row["drain_x"] = {
            "A": round(drain / by_name["A"]["drain_msg_per_s"], 3),
            "B": round(drain / by_name["B"]["drain_msg_per_s"], 3),
            "L": round(drain / l_row["msg_per_s"], 3),
        }
    return {
        "settings": asdict(settings)
        | {"profile": str(settings.profile or ""), "postgres": settings.postgres is not None},
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
            ledger_limit.NOTE,
            ledger_limit.FLOOR_NOTE,
        ],
        "rows": rows,
        "ledger_limit": limit,
    }


def _row(
    name: str, label: str, runs: dict[tuple[str, Mode], list[Run]], settings: Settings, steady: int
) -> dict[str, Any]:
    saturated, drained, rated = (runs[name, mode] for mode in Mode)
    return {
        "row": name,
        "label": label,
        "backend": None,  # A and B keep no ledger
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
            "messages": steady,
            "p50_ms": _median(rated, "p50_ms"),
            "p99_ms": _median(rated, "p99_ms"),
            "runs": [asdict(r) | {"msg_per_s": round(r.per_second, 1)} for r in rated],
        },
    }
