"""What every throughput/latency row shares: its own nats-server, the publishers (a bounded
window at saturation, or a fixed rate) and the tracker that turns timestamps into figures."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.natsserver.server import EmbeddedNatsServer

Publish = Callable[[int], Awaitable[object]]


@contextlib.contextmanager
def nats_server() -> Iterator[EmbeddedNatsServer]:
    """A fresh nats-server per measurement, EmbeddedNatsServer's settings (file store,
    ``sync_interval: always``): no row inherits another's stream, consumers or page cache."""
    with (
        tempfile.TemporaryDirectory(prefix="mechbus-bench-") as tmp,
        EmbeddedNatsServer(Path(tmp) / "nats") as server,
    ):
        yield server


@dataclass(frozen=True)
class Run:
    messages: int
    seconds: float  # first publish call to the last message's end (ack, or commit)
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank: the value below which a fraction ``q`` of the samples lie."""
    rank = max(1, round(q * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Tracker:
    """Per message: when its publish was called, and when the consumer finished it."""

    def __init__(self, keys: list[str]) -> None:
        self._index = {key: i for i, key in enumerate(keys)}
        self._started = [0.0] * len(keys)
        self._finished = [0.0] * len(keys)
        self._left = len(keys)
        self._all_done = asyncio.Event()

    def started(self, i: int) -> None:
        self._started[i] = time.perf_counter()

    def started_all(self, at: float) -> None:
        """Every message counted from ``at`` (a drain: published before the clock started)."""
        self._started = [at] * len(self._started)

    def finished(self, key: str, at: float | None = None) -> None:
        i = self._index.get(key)
        if i is None:  # not one of ours (the hub also records its own checkpoints)
            return
        if self._finished[i] == 0.0:  # a redelivery counts once, at its first end
            self._finished[i] = at if at is not None else time.perf_counter()
            self._left -= 1
            if self._left == 0:
                self._all_done.set()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._all_done.wait(), timeout)
        except TimeoutError:
            done = len(self._started) - self._left
            raise RuntimeError(
                f"only {done} of {len(self._started)} messages finished in {timeout:.0f}s"
            ) from None

    def run(self) -> Run:
        latencies = sorted(
            (end - begin) * 1000 for begin, end in zip(self._started, self._finished, strict=True)
        )
        seconds = max(self._finished) - min(self._started)
        return Run(
            len(latencies),
            seconds,
            round(percentile(latencies, 0.50), 2),
            round(percentile(latencies, 0.99), 2),
        )


async def saturate(publish: Publish, count: int, window: int, tracker: Tracker | None) -> None:
    """Publish ``count`` messages as fast as ``window`` publishes in flight allow: ``window``
    workers each awaiting their PubAck before taking the next message."""
    numbers = iter(range(count))

    async def worker() -> None:
        for i in numbers:  # one shared iterator: each number is taken once
            if tracker is not None:
                tracker.started(i)
            await publish(i)

    await asyncio.gather(*(worker() for _ in range(min(window, count))))


async def at_rate(publish: Publish, count: int, rate: float, tracker: Tracker) -> None:
    """Publish ``count`` messages at a fixed ``rate`` per second, open loop: each is sent on
    schedule whether or not earlier ones were acknowledged (as independent senders do)."""
    began = time.perf_counter()
    tasks: list[asyncio.Task[object]] = []

    async def one(i: int) -> object:
        tracker.started(i)
        return await publish(i)

    for i in range(count):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
