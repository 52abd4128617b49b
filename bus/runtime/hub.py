"""The federal hub: a FastStream app that records every message on the bus in the ledger.

It reads the whole stream through one durable pull consumer as batches, in stream order (a
response must never overtake the acknowledgement before it; see bus.runtime.puller). Each batch is
recorded in one ledger transaction; its deliveries are acknowledged to JetStream only after
that transaction commits and any ``rejected`` notice it produced has a PubAck.
Nothing is ever terminated: bad input becomes a dead letter, and a failure of the ledger or of
NATS leaves the delivery unacknowledged, to come back after a growing delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.nats.security import NatsNKey
from faststream.security import BaseSecurity
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from bus.domain import subjects
from bus.domain.clock import TimeSource, utc_now
from bus.domain.federal import HUB
from bus.domain.msgids import CopyIds
from bus.domain.policy import Policy
from bus.domain.ports import Delivery, Ledger, LedgerUnavailable
from bus.domain.recording import Outcome, Result, record_batch
from bus.domain.rules import Rules
from bus.domain.streams import (
    HUB_MAX_DELIVER,
    StreamSpec,
    agency_consumer,
    hub_consumer,
)
from bus.runtime import jetstream
from bus.runtime.puller import BatchPuller
from bus.runtime.undeliverable import Failures, UndeliverableKeeper
from schemas.registry import AgencyRegistry, active_registry
from schemas.tracking import Checkpoint, CheckpointBody

log = logging.getLogger("mechbus.hub")

REDELIVERY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
DEFER_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)


def _security(creds: Path | None, tls: ssl.SSLContext | None) -> BaseSecurity | None:
    """The hub's nkey login and/or the TLS context trusting the deployment's CA."""
    if creds is not None:
        return NatsNKey(creds, ssl_context=tls)
    if tls is not None:
        return BaseSecurity(ssl_context=tls)
    return None


class Hub:
    """Consumes ``mech.v1.>`` into the ledger. Use ``start``/``stop`` or ``run`` the app."""

    def __init__(
        self,
        ledger: Ledger,
        servers: str | list[str],
        *,
        stream: StreamSpec | None = None,
        clock: TimeSource | None = None,
        policy: Policy | None = None,
        batch_size: int = 256,
        creds: Path | None = None,
        provision: Iterable[str] = (),
        checkpoint_interval: float = 300.0,
        tls: ssl.SSLContext | None = None,
        defer_unknown_for: float = 90.0,
        max_deliver: int = HUB_MAX_DELIVER,
        copy_ids: CopyIds | None = None,
        registry: AgencyRegistry | None = None,
    ) -> None:
        self.ledger = ledger
        self.servers = servers
        self.stream = stream or StreamSpec()
        # With no clock of its own the hub records each message at the moment the stream
        # stored it (see bus.domain.ports.Delivery.stored_at), so replaying the stream rebuilds the
        # same ledger; tests and trials pass a clock to move time themselves.
        self.recording_clock = clock
        self.clock = clock or utc_now
        self.policy = policy or Policy.load()
        self.rules = Rules(registry or active_registry(), self.policy)
        self.provision = tuple(provision)  # agencies whose consumers the hub creates
        self.checkpoint_interval = checkpoint_interval  # 0: never
        # How long a response may wait for its request (recording.Result.DEFERRED), measured
        # from when the stream stored it: longer than the consumer's ack_wait, after which a
        # crashed hub's unacknowledged deliveries come back, however often hubs crashed.
        self.defer_unknown_for = defer_unknown_for
        self.max_deliver = max_deliver
        # The deployment's key for its copies' Nats-Msg-Id (bus.domain.msgids), shared with the
        # sweeper and the outbox relay of the same deployment (None: this process's key).
        self.copy_ids = copy_ids
        self.failures = Failures()
        self._keeper: UndeliverableKeeper | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.recorded = 0
        self.dead_letters = 0
        self._nc: Client | None = None
        self._committed = asyncio.Condition()
        # The broker owns the hub's one NATS connection. FastStream logs every message at INFO
        # by default, which halves throughput and is the wrong place for message content.
        self.broker = NatsBroker(
            servers.split(",") if isinstance(servers, str) else servers,  # a cluster's URLs
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            log_level=logging.DEBUG,
            logger=logging.getLogger("mechbus.hub.faststream"),
            inbox_prefix=subjects.inbox_prefix(HUB).encode(),
            security=_security(creds, tls),
        )
        self._puller: BatchPuller | None = None
        self._capacity: KeyValue | None = None
        self._batch_size = batch_size
        self.app = FastStream(self.broker)
        self.app.after_startup(self._prepare)
        self.app.on_shutdown(self._release)

    async def _prepare(self) -> None:
        """Declare the stream and the hub's durable consumer before consuming."""
        self._nc = await self.broker.connect()
        jetstream.read_any_subject(self._nc)
        js = self._nc.jetstream()
        await jetstream.ensure_stream(js, self.stream)
        consumer = hub_consumer(self.max_deliver)
        await jetstream.ensure_consumer(js, self.stream, consumer)
        self._keeper = UndeliverableKeeper(
            js, self.ledger, self.stream, self.failures, self._after_commit, self.rules.registry
        )
        await self._keeper.start()
        # One consumer per agency, filtered to its own inbox: on a secured server the hub
        # writes these so that no agency can give itself a wider filter.
        await asyncio.gather(
            *(
                jetstream.ensure_consumer(js, self.stream, agency_consumer(agency))
                for agency in self.provision
            )
        )
        self._capacity = await jetstream.ensure_capacity_bucket(js, self.stream)
        self._puller = BatchPuller(
            js,
            self.stream.name,
            consumer.durable,
            self._on_batch,
            batch_size=self._batch_size,
            inbox_prefix=subjects.deliver_prefix(HUB),
        )
        await self._puller.start()
        if self.checkpoint_interval > 0:
            self._stopping.clear()
            self._checkpoints = asyncio.create_task(self._checkpoint_loop(), name="checkpoints")

    async def _release(self) -> None:
        self._stopping.set()
        if self._checkpoints is not None:
            await asyncio.gather(self._checkpoints, return_exceptions=True)
            self._checkpoints = None
        if self._puller is not None:
            await self._puller.stop()
            self._puller = None
        if self._keeper is not None:
            await self._keeper.stop()
            self._keeper = None
        self._nc = None

    async def start(self) -> None:
        """Run inside the caller's event loop (the demo, tests); ``app`` runs it standalone."""
        await self.broker.start()
        await self._prepare()

    async def stop(self) -> None:
        await self._release()
        await self.broker.stop()

    @property
    def js(self) -> JetStreamContext:
        """The hub's JetStream context (for the sweeper, which speaks as the hub)."""
        if self._nc is None:
            raise RuntimeError("the hub is not started")
        return self._nc.jetstream()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate`` holds, re-checking after each ledger commit."""
        async with self._committed:
            await asyncio.wait_for(self._committed.wait_for(predicate), timeout)

    async def _checkpoint_loop(self) -> None:
        """Publish the chain's head now and then, so a copy kept elsewhere can attest it."""
        published: tuple[int, str, str] | None = None
        last_checkpoint = ""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.checkpoint_interval)
            if self._stopping.is_set():
                return
            try:
                head = await asyncio.to_thread(self.ledger.last_link)
                # nothing new, or nothing but our own last checkpoint: stay quiet
                if head is None or head == published or head[1] == last_checkpoint:
                    continue
                seq, message_id, chain_hash = head
                checkpoint = Checkpoint(
                    id=f"chk-{chain_hash[:32]}",
                    source=HUB,
                    time=self.clock(),
                    data=CheckpointBody(
                        last_seq=seq, last_message_id=message_id, chain_hash=chain_hash
                    ),
                )
                await jetstream.publish(self.js, checkpoint, stream=self.stream.name)
                published, last_checkpoint = head, checkpoint.id
            except Exception:  # the next interval tries again
                log.exception("checkpoint failed")

    async def _on_batch(self, batch: list[Msg]) -> None:
        wall = datetime.now(UTC)  # the transport's clock: message age, not domain time
        deliveries = [
            Delivery(
                m.subject,
                m.data,
                m.metadata.sequence.stream,
                m.metadata.num_delivered,
                may_wait=(wall - m.metadata.timestamp).total_seconds() < self.defer_unknown_for,
                stored_at=m.metadata.timestamp,
            )
            for m in batch
        ]
        try:
            outcomes = await self._commit_patiently(batch, deliveries)
        except Exception as exc:
            if len(batch) == 1:
                await self._give_back(batch[0], exc)
                return
            # Something in this batch fails to record. Record it one message at a time, so
            # that only the message at fault comes back (and, in the end, is kept as
            # undeliverable) while the others are recorded now, in order.
            log.warning(
                "recording %d deliveries from stream seq %d failed (%s); one at a time now",
                len(batch),
                deliveries[0].stream_seq,
                type(exc).__name__,
            )
            for msg, delivery in zip(batch, deliveries, strict=True):
                await self._on_batch_of_one(msg, delivery)
            return
        await self._settle(batch, outcomes)

    async def _on_batch_of_one(self, msg: Msg, delivery: Delivery) -> None:
        try:
            [outcome] = await self._commit_patiently([msg], [delivery])
        except Exception as exc:
            await self._give_back(msg, exc)
            return
        await self._settle([msg], [outcome])

    async def _commit_patiently(
        self, batch: list[Msg], deliveries: list[Delivery]
    ) -> list[Outcome]:
        """Commit; while the ledger is unavailable, hold the batch and try again.

        The deliveries are kept in progress meanwhile, so JetStream neither hands them to
        another hub nor counts them toward the max deliveries of a poison message.
        """
        wait = 0.25
        while True:
            try:
                return await self._commit(deliveries)
            except LedgerUnavailable as exc:
                if self._stopping.is_set():
                    raise
                log.warning("%s; holding %d deliveries, retrying in %.1fs", exc, len(batch), wait)
                await asyncio.gather(*(m.in_progress() for m in batch), return_exceptions=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)
                wait = min(wait * 2, 5.0)

    async def _give_back(self, msg: Msg, exc: Exception) -> None:
        """Not recorded: redelivered after a growing delay, up to the max deliveries."""
        attempt = min(msg.metadata.num_delivered, len(REDELIVERY_DELAYS))
        delay = REDELIVERY_DELAYS[attempt - 1]
        self.failures.note(msg.metadata.sequence.stream, exc)
        log.warning(
            "recording stream seq %d failed (%s, delivery %d); redelivery in %.1fs",
            msg.metadata.sequence.stream,
            type(exc).__name__,
            msg.metadata.num_delivered,
            delay,
        )
        with contextlib.suppress(Exception):  # NATS away: it comes back after ack_wait anyway
            await msg.nak(delay=delay)

    async def _settle(self, batch: list[Msg], outcomes: list[Outcome]) -> None:
        # Acknowledged only now: the ledger has committed and every notice has its PubAck.
        for msg, outcome in zip(batch, outcomes, strict=True):
            # One after the other: an ack only queues a few bytes on the connection, and a
            # task per ack would cost more than the ack itself.
            if outcome.result is Result.DEFERRED:
                await msg.nak(delay=self._deferral(msg))
            else:
                self.failures.forget(outcome.stream_seq)
                await msg.ack()

    def _deferral(self, msg: Msg) -> float:
        """Wait longer each time, never past the horizon by much."""
        attempt = min(msg.metadata.num_delivered, len(DEFER_DELAYS))
        return min(DEFER_DELAYS[attempt - 1], max(self.defer_unknown_for / 4, 0.05))

    async def _commit(self, deliveries: list[Delivery]) -> list[Outcome]:
        now = self.recording_clock() if self.recording_clock is not None else None
        outcomes = await asyncio.to_thread(record_batch, self.ledger, deliveries, now, self.rules)
        await self._after_commit(outcomes)
        return outcomes

    async def _after_commit(self, outcomes: list[Outcome]) -> None:
        """Tell senders about refusals, let out what recorded placements release, publish
        capacities, count, and wake the waiters."""
        notices = [o.notice for o in outcomes if o.notice is not None]
        if notices:
            assert self._nc is not None
            js = self._nc.jetstream()
            await asyncio.gather(
                *(
                    jetstream.publish(js, notice, stream=self.stream.name, copy_ids=self.copy_ids)
                    for notice in notices
                )
            )
        await self._let_out(o for o in outcomes if o.releases)
        for outcome in outcomes:
            if outcome.capacity is not None and self._capacity is not None:
                document = json.dumps(outcome.capacity.as_json(), ensure_ascii=False)
                await self._capacity.put(outcome.capacity.shelter, document.encode())
            if outcome.reason is not None:
                self.dead_letters += 1
                # Reason and ids only: the body may carry personal data and is never logged.
                log.info(
                    "dead letter: stream seq %d, %s, message %s",
                    outcome.stream_seq,
                    outcome.reason.value,
                    outcome.message_id,
                )
            elif outcome.result is Result.RECORDED:
                self.recorded += 1
        async with self._committed:
            self._committed.notify_all()

    async def _let_out(self, outcomes: Iterable[Outcome]) -> None:
        """Publish, now that the ledger holds each placement, the shelter's copy of its
        confirmation and the release of the other offers. A failure here leaves the
        confirmation unacknowledged: redelivered, it yields the same messages again."""
        for outcome in outcomes:
            for release in outcome.releases:
                await jetstream.publish_release(
                    self.js, release, stream=self.stream.name, copy_ids=self.copy_ids
                )
