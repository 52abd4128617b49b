"""The federal hub: a FastStream app that records every message on the bus in the ledger.

It reads the whole stream through one durable pull consumer. Deliveries fetched together are
recorded in one ledger transaction (group commit); each delivery is acknowledged to JetStream
only after that transaction commits and any ``rejected`` notice it produced has a PubAck.
Nothing is ever terminated: bad input becomes a dead letter, and a failure of the ledger or of
NATS leaves the delivery unacknowledged, to come back after a growing delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from faststream import AckPolicy, FastStream
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.message import NatsMessage as RawNatsMessage
from nats.aio.client import Client

from bus import jetstream, subjects
from bus.ports import Delivery, Ledger
from bus.recording import Outcome, record_batch
from bus.streams import StreamSpec, hub_consumer

log = logging.getLogger("mechbus.hub")

Clock = Callable[[], datetime]
REDELIVERY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def utc_now() -> datetime:
    return datetime.now(UTC)


class GroupCommit:
    """Coalesces the deliveries that arrive together into one ledger transaction."""

    def __init__(
        self, commit: Callable[[list[Delivery]], Awaitable[list[Outcome]]], max_batch: int
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Delivery, asyncio.Future[Outcome]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mechbus-group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("hub stopping"))

    async def submit(self, delivery: Delivery) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((delivery, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await self._commit([delivery for delivery, _ in batch])
            except Exception as exc:  # the whole batch failed: every delivery is retried
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


class Hub:
    """Consumes ``mech.v1.>`` into the ledger. Use ``start``/``stop`` or ``run`` the app."""

    def __init__(
        self,
        ledger: Ledger,
        servers: str | list[str],
        *,
        stream: StreamSpec | None = None,
        clock: Clock = utc_now,
        batch_size: int = 256,
    ) -> None:
        self.ledger = ledger
        self.servers = servers
        self.stream = stream or StreamSpec()
        self.clock = clock
        self.recorded = 0
        self.dead_letters = 0
        self._nc: Client | None = None
        self._committed = asyncio.Condition()
        self._writer = GroupCommit(self._commit, max_batch=batch_size)
        # FastStream logs every message at INFO by default, which halves throughput and
        # would be the wrong place for message content anyway: per-message logs are DEBUG.
        self.broker = NatsBroker(
            servers,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            log_level=logging.DEBUG,
            inbox_prefix=jetstream.inbox_prefix("fed.hub").encode(),
        )
        consumer = hub_consumer()
        self.broker.subscriber(
            subjects.ALL,
            stream=JStream(self.stream.name, declare=False),
            durable=consumer.durable,
            pull_sub=PullSub(batch_size=batch_size, timeout=1.0),
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            inbox_prefix=jetstream.inbox_prefix("fed.hub").encode(),
            title="hub",
            description="Records every mechbus v1 message in the federal ledger.",
        )(self._on_message)
        self.app = FastStream(self.broker)
        self.app.on_startup(self._prepare)
        self.app.after_shutdown(self._release)

    async def _prepare(self) -> None:
        """Declare the stream and the hub's durable consumer before consuming."""
        self._nc = await jetstream.connect(self.servers, name="mechbus-hub", agency="fed.hub")
        js = self._nc.jetstream()
        await jetstream.ensure_stream(js, self.stream)
        await jetstream.ensure_consumer(js, self.stream, hub_consumer())
        self._writer.start()

    async def _release(self) -> None:
        await self._writer.stop()
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None

    async def start(self) -> None:
        await self._prepare()
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self._release()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate`` holds, re-checking after each ledger commit."""
        async with self._committed:
            await asyncio.wait_for(self._committed.wait_for(predicate), timeout)

    async def _on_message(self, body: bytes, msg: NatsMessage) -> None:
        raw = msg.raw_message
        metadata = raw.metadata
        delivery = Delivery(raw.subject, body, metadata.sequence.stream)
        try:
            await self._writer.submit(delivery)
        except Exception as exc:
            attempt = min(metadata.num_delivered, len(REDELIVERY_DELAYS)) - 1
            delay = REDELIVERY_DELAYS[max(attempt, 0)]
            log.warning(
                "recording stream seq %d failed (%s); redelivery in %.1fs",
                delivery.stream_seq,
                type(exc).__name__,
                delay,
            )
            await msg.nack(delay=delay)
            return
        await msg.ack()

    async def _commit(self, deliveries: list[Delivery]) -> list[Outcome]:
        now = self.clock()
        outcomes = await asyncio.to_thread(record_batch, self.ledger, deliveries, now)
        notices = [o.notice for o in outcomes if o.notice is not None]
        if notices:
            assert self._nc is not None
            js = self._nc.jetstream()
            await asyncio.gather(
                *(jetstream.publish(js, notice, stream=self.stream.name) for notice in notices)
            )
        for outcome in outcomes:
            if outcome.reason is not None:
                self.dead_letters += 1
                # Reason and ids only: the body may carry personal data and is never logged.
                log.info(
                    "dead letter: stream seq %d, %s, message %s",
                    outcome.stream_seq,
                    outcome.reason.value,
                    outcome.message_id,
                )
            elif outcome.result.value == "recorded":
                self.recorded += 1
        async with self._committed:
            self._committed.notify_all()
        return outcomes


async def _raw_body(msg: RawNatsMessage) -> Any:
    """Hand the handler the bytes as received: the hub parses them itself, so that malformed
    input becomes a dead letter instead of a FastStream decoding error."""
    return msg.body
