"""The record growing: the hub's resident memory (VmRSS) after a warm-up and after a long run,
the hub in its own process (bench.hub_process) fed requests by this one."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext

from adapters.ledger.store import sqlite_url
from adapters.natsserver.binary import parent_death_hook
from bench import bodies
from bench.timing import nats_server, saturate
from bus.domain.streams import HUB_DURABLE

ROOT = Path(__file__).resolve().parent.parent


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` figure such as VmRSS (resident now) or VmHWM (its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


PARTS = ("RssAnon", "RssFile", "RssShmem")
"""What VmRSS is made of: the process's own heap and stacks, files it maps (the C libraries,
and SQLite's database if mapped), and shared memory (SQLite's WAL index, ``ledger.db-shm``)."""


def rss_parts(pid: int) -> dict[str, int]:
    return {part: status_kib(pid, part) for part in PARTS}


def _rss_text(rss_kib: int, parts: dict[str, int]) -> str:
    made_of = ", ".join(f"{part[3:].lower()} {kib / 1024:.1f}" for part, kib in parts.items())
    return f"hub RSS {rss_kib / 1024:.1f} MiB ({made_of})"


def _start_hub(nats_url: str, ledger_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "bench.hub_process", "--nats-url", nats_url]
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*command, "--ledger-url", ledger_url],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            cwd=ROOT,
            preexec_fn=parent_death_hook(),  # never outlives the benchmark
        )
    assert proc.stdout is not None
    # The hub declares the stream and its consumer before it says "ready".
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    if not ready or proc.stdout.readline().strip() != b"ready":
        proc.kill()
        raise RuntimeError(f"the hub did not start; see {log}:\n{log.read_text()[-2000:]}")
    return proc


def heap_of(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The hub's heap make-up, asked for with SIGUSR1 (bench.hub_process); none if it is mute."""
    assert proc.stdout is not None
    os.kill(proc.pid, signal.SIGUSR1)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    if not ready:
        return {}
    found: dict[str, Any] = json.loads(proc.stdout.readline())
    return found


def _reading(hub: subprocess.Popen[bytes]) -> tuple[int, dict[str, int], dict[str, Any]]:
    """The hub's VmRSS, what it is made of, and its heap's make-up, read together."""
    return status_kib(hub.pid, "VmRSS"), rss_parts(hub.pid), heap_of(hub)


class Feeder:
    """Publishes requests with a bounded window and waits until the hub has acked them all."""

    def __init__(self, js: JetStreamContext, count: int, window: int) -> None:
        self._js = js
        self._bodies = bodies.stream_of(count)
        self._window = window
        self.last_seq = 0

    async def feed(self, count: int) -> None:
        async def publish(_: int) -> None:
            subject, msg_id, payload = next(self._bodies)
            ack = await self._js.publish(
                subject, payload, stream=bodies.STREAM, headers={"Nats-Msg-Id": msg_id}
            )
            self.last_seq = max(self.last_seq, ack.seq)

        await saturate(publish, count, self._window, None)

    async def run(self, count: int, pid: int, total: int) -> None:
        """Feed ``count`` more while watching the hub; return once its ack floor reaches the
        last request published (the stream holds what the hub has not fetched yet)."""
        feeding = asyncio.create_task(self.feed(count))
        shown = time.monotonic()
        while True:
            info = await self._js.consumer_info(bodies.STREAM, HUB_DURABLE)
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            if feeding.done() and floor >= self.last_seq:
                await feeding  # raises if a publish failed
                return
            if time.monotonic() - shown > 15:
                rss = _rss_text(status_kib(pid, "VmRSS"), rss_parts(pid))
                print(f"  {floor:>9,} of {total:,} recorded, {rss}", flush=True)
                shown = time.monotonic()
            await asyncio.sleep(0.5)


async def _feed(
    url: str, hub: subprocess.Popen[bytes], messages: int, warmup: int, window: int
) -> dict[str, Any]:
    pid = hub.pid
    nc = await nats.connect(url, name="bench-feeder")
    try:
        feeder = Feeder(nc.jetstream(), messages, window)
        await feeder.run(warmup, pid, messages)
        start_kib, start_parts, start_heap = _reading(hub)
        print(f"  warm-up of {warmup:,} recorded, {_rss_text(start_kib, start_parts)}", flush=True)
        began = time.perf_counter()
        await feeder.run(messages - warmup, pid, messages)
        seconds = time.perf_counter() - began
        end_kib, end_parts, end_heap = _reading(hub)
        return {
            "rss_start_kib": start_kib,
            "rss_end_kib": end_kib,
            "rss_parts_start_kib": start_parts,
            "rss_parts_end_kib": end_parts,
            "heap_start": start_heap,
            "heap_end": end_heap,
            "rss_peak_kib": status_kib(pid, "VmHWM"),
            "growth_pct": round(100 * (end_kib - start_kib) / start_kib, 2),
            "after_warmup_per_s": round((messages - warmup) / seconds, 1),
        }
    finally:
        await nc.close()


def run(messages: int, warmup: int = 10_000, window: int = 256) -> dict[str, Any]:
    warmup = min(warmup, messages // 2)
    with nats_server() as server, tempfile.TemporaryDirectory(prefix="mechbus-bench-mem-") as tmp:
        db = Path(tmp) / "ledger.db"
        hub = _start_hub(server.url, sqlite_url(db), Path(tmp) / "hub.log")
        try:
            figures = asyncio.run(_feed(server.url, hub, messages, warmup, window))
        finally:
            hub.terminate()
            hub.wait(60)
        ledger_mib = sum(p.stat().st_size for p in Path(tmp).glob("ledger.db*")) / 2**20
    return {
        "hub": "bench.hub_process: bus.runtime.hub.Hub on SQLite, its own process",
        "messages": messages,
        "warmup": warmup,
        **figures,
        "ledger_mib": round(ledger_mib, 1),
    }
