"""The mechbus row: requests published with bus.runtime.jetstream.publish, as the federal sender
does, and recorded by a bus.runtime.hub.Hub on a ledger of the measurement's backend (a SQLite
file, or a fresh schema of the benchmark's PostgreSQL database: bench.backends); a message ends
when its commit completed."""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any

from nats.js import JetStreamContext

from adapters.ledger.store import SqlLedger
from adapters.service import compose
from bench.backends import SQLITE, Backend
from bench.bodies import STREAM, Body
from bench.timing import Publish, Tracker, percentile
from bus.domain.ports import Delivery
from bus.domain.recording import Outcome, Result
from bus.runtime import jetstream
from bus.runtime.hub import Hub
from bus.runtime.recorder import Recorder

NOTE = (
    "mechbus: bus.runtime.jetstream.publish (the recipient's copy, Nats-Msg-Id, PubAck) into "
    "Hub (fetch 256, decode and validate, lifecycle, one ledger transaction a batch: SQLite "
    "in WAL with synchronous=FULL, or PostgreSQL with synchronous_commit=on; ack after the "
    "commit); a message ends when the commit containing it returned"
)


def label(backend: Backend) -> str:
    return f"mechbus  hub + {backend.title} ledger"


class TimedRecorder(Recorder):
    """The hub's recording loop unchanged, told when each commit completed: ``after_commit``
    runs right after the ledger transaction returns, before notices and acks. Also counts
    where time goes."""

    tracker: Tracker | None = None
    refused = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commit_ms: list[float] = []  # each Recorder._commit: the ledger thread, after-commit

    async def _commit(self, deliveries: list[Delivery]) -> list[Outcome]:
        began = time.perf_counter()
        try:
            return await super()._commit(deliveries)
        finally:
            self.commit_ms.append((time.perf_counter() - began) * 1000)

    async def after_commit(self, outcomes: list[Outcome]) -> None:
        at = time.perf_counter()
        for outcome in outcomes:
            if outcome.result is Result.RECORDED and outcome.message_id is not None:
                assert self.tracker is not None
                self.tracker.finished(outcome.message_id, at)
            elif outcome.reason is not None:
                self.refused += 1
        await super().after_commit(outcomes)


class TimedHub(Hub):
    """The hub with a TimedRecorder."""

    recorder_type = TimedRecorder

    def __init__(self, *args: Any, tracker: Tracker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert isinstance(self.recorder, TimedRecorder)
        self.timed: TimedRecorder = self.recorder
        self.timed.tracker = tracker

    @property
    def refused(self) -> int:
        return self.timed.refused

    @property
    def commit_ms(self) -> list[float]:
        return self.timed.commit_ms


class MechbusConsumer:
    def __init__(self, backend: Backend = SQLITE) -> None:
        self.backend = backend
        self.label = label(backend)
        self._place = contextlib.ExitStack()  # the ledger's file or schema, removed at stop
        self._ledger: SqlLedger | None = None
        self.hub: TimedHub | None = None

    def publisher(self, js: JetStreamContext, bodies: list[Body]) -> Publish:
        async def publish(i: int) -> object:
            return await jetstream.publish(js, bodies[i].envelope, stream=STREAM)

        return publish

    async def start(self, url: str, tracker: Tracker) -> None:
        ledger_url = self._place.enter_context(self.backend.fresh())
        # Built (and migrated) before the clock starts, as `mechbus up` does at startup.
        # A key of our own: the ledger seals personal fields whether or not a body has any.
        self._ledger = compose.measurement_ledger(ledger_url)
        hub = compose.hub(None, self._ledger, url, kind=TimedHub, tracker=tracker)
        assert isinstance(hub, TimedHub)
        self.hub = hub
        await self.hub.start()

    async def stop(self) -> None:
        if self.hub is not None:
            await self.hub.stop()
        if self._ledger is not None:
            self._ledger.close()
        self._place.close()
        if self.hub is not None and self.hub.refused:
            raise RuntimeError(f"the hub refused {self.hub.refused} benchmark requests")

    def stats(self, seconds: float) -> dict[str, float]:
        """Batches, the share of the run the hub spent committing (vs fetching, acking,
        waiting for messages) and how long its commits took."""
        hub = self.hub
        assert hub is not None
        commits = sorted(hub.commit_ms) or [0.0]
        return {
            "batches": len(hub.commit_ms),
            "mean_batch": round(hub.recorded / max(len(hub.commit_ms), 1), 1),
            "commit_share": round(sum(commits) / 1000 / seconds, 3),
            "commit_ms_mean": round(statistics.mean(commits), 2),
            "commit_ms_p99": round(percentile(commits, 0.99), 2),
            "commit_ms_max": round(commits[-1], 2),
            "commit_ms_per_message": round(sum(commits) / max(hub.recorded, 1), 3),
        }
