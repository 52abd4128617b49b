"""The federal hub: a FastStream app that records every message on the bus in the ledger.

It reads the whole stream through one durable pull consumer as batches, in stream order (a
response must never overtake the acknowledgement before it; see bus.runtime.puller), and
hands each batch to its recording loop (bus.runtime.recorder), which speaks to the bus through
the ports. The hub itself declares the stream, the consumers and the capacity bucket, keeps
the undeliverable and publishes checkpoints of the ledger's hash chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path

from faststream import FastStream
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.domain import subjects
from bus.domain.clock import TimeSource, utc_now
from bus.domain.federal import HUB
from bus.domain.msgids import CopyIds
from bus.domain.policy import Policy
from bus.domain.ports import Ledger
from bus.domain.rules import Rules
from bus.domain.streams import (
    HUB_MAX_DELIVER,
    StreamSpec,
    agency_consumer,
    hub_consumer,
)
from bus.runtime import broker as brokers
from bus.runtime import jetstream, publishing
from bus.runtime.puller import BatchPuller
from bus.runtime.recorder import Recorder
from bus.runtime.transport import JetStreamTransport, KeyValueBoard
from bus.runtime.undeliverable import Failures, UndeliverableKeeper, watch_dead_letters
from schemas.registry import AgencyRegistry, active_registry
from schemas.tracking import Checkpoint, CheckpointBody

log = logging.getLogger("mechbus.hub")


class Hub:
    """Consumes ``mech.v1.>`` into the ledger. Use ``start``/``stop`` or ``run`` the app.

    The broker may be built by the caller (``broker``; bus.runtime.broker builds one); given
    ``servers`` instead, the hub builds its own, with ``creds`` and ``tls``.
    """

    recorder_type: type[Recorder] = Recorder

    def __init__(
        self,
        ledger: Ledger,
        servers: str | list[str] | None = None,
        *,
        broker: NatsBroker | None = None,
        stream: StreamSpec | None = None,
        clock: TimeSource | None = None,
        policy: Policy | None = None,
        registry: AgencyRegistry | None = None,
        batch_size: int = 256,
        creds: Path | None = None,
        provision: Iterable[str] = (),
        checkpoint_interval: float = 300.0,
        tls: ssl.SSLContext | None = None,
        defer_unknown_for: float = 90.0,
        max_deliver: int = HUB_MAX_DELIVER,
        copy_ids: CopyIds | None = None,
    ) -> None:
        if broker is None:
            if servers is None:
                raise ValueError("the hub needs a broker or the servers to build one for")
            broker = brokers.broker(brokers.hub_options(servers, creds, tls))
        self.ledger = ledger
        self.servers = servers
        self.stream = stream or StreamSpec()
        # With no clock of its own the hub records each message at the moment the stream
        # stored it (see bus.domain.ports.Delivery.stored_at), so replaying the stream
        # rebuilds the same ledger; tests and trials pass a clock to move time themselves.
        self.clock = clock or utc_now
        self.provision = tuple(provision)  # agencies whose consumers the hub creates
        self.checkpoint_interval = checkpoint_interval  # 0: never
        self.max_deliver = max_deliver
        self._nc: Client | None = None
        # Publishes as the hub, on the connection its broker makes when it starts.
        self.transport = JetStreamTransport(lambda: self.js, self.stream.name)
        # How long a response may wait for its request (recording.Result.DEFERRED), measured
        # from when the stream stored it: longer than the consumer's ack_wait, after which a
        # crashed hub's unacknowledged deliveries come back, however often hubs crashed.
        # copy_ids: the deployment's key for its copies' Nats-Msg-Id (bus.domain.msgids),
        # shared with the sweeper and the outbox relay (None: this process's key).
        self.recorder = self.recorder_type(
            ledger,
            self.transport,
            rules=Rules(registry or active_registry(), policy or Policy.load()),
            clock=clock,
            defer_unknown_for=defer_unknown_for,
            copy_ids=copy_ids,
            failures=Failures(),
        )
        self._keeper = UndeliverableKeeper(
            self.transport,
            ledger,
            self.recorder.failures,
            self.recorder.after_commit,
            self.recorder.rules.registry,
        )
        self._dead_letters: BatchPuller | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        # The broker owns the hub's one NATS connection.
        self.broker = broker
        self._puller: BatchPuller | None = None
        self._batch_size = batch_size
        self.app = FastStream(self.broker)
        self.app.after_startup(self._prepare)
        self.app.on_shutdown(self._release)

    @property
    def policy(self) -> Policy:
        return self.recorder.policy

    @property
    def copy_ids(self) -> CopyIds | None:
        return self.recorder.copy_ids

    @property
    def failures(self) -> Failures:
        return self.recorder.failures

    @property
    def recorded(self) -> int:
        return self.recorder.recorded

    @property
    def dead_letters(self) -> int:
        return self.recorder.dead_letters

    async def _prepare(self) -> None:
        """Declare the stream and the hub's durable consumer before consuming."""
        self._nc = await self.broker.connect()
        jetstream.read_any_subject(self._nc)
        js = self._nc.jetstream()
        await jetstream.ensure_stream(js, self.stream)
        consumer = hub_consumer(self.max_deliver)
        await jetstream.ensure_consumer(js, self.stream, consumer)
        self._dead_letters = await watch_dead_letters(js, self.stream, self._keeper)
        # One consumer per agency, filtered to its own inbox: on a secured server the hub
        # writes these so that no agency can give itself a wider filter.
        await asyncio.gather(
            *(
                jetstream.ensure_consumer(js, self.stream, agency_consumer(agency))
                for agency in self.provision
            )
        )
        bucket = await jetstream.ensure_capacity_bucket(js, self.stream)
        self.recorder.capacity = KeyValueBoard(bucket)
        self._puller = BatchPuller(
            js,
            self.stream.name,
            consumer.durable,
            self.recorder.on_batch,
            batch_size=self._batch_size,
            inbox_prefix=subjects.deliver_prefix(HUB),
        )
        await self._puller.start()
        if self.checkpoint_interval > 0:
            self.recorder.stopping.clear()
            self._checkpoints = asyncio.create_task(self._checkpoint_loop(), name="checkpoints")

    async def _release(self) -> None:
        self.recorder.stopping.set()
        if self._checkpoints is not None:
            await asyncio.gather(self._checkpoints, return_exceptions=True)
            self._checkpoints = None
        if self._puller is not None:
            await self._puller.stop()
            self._puller = None
        if self._dead_letters is not None:
            await self._dead_letters.stop()
            self._dead_letters = None
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
        """The hub's JetStream context (for what speaks as the hub)."""
        if self._nc is None:
            raise RuntimeError("the hub is not started")
        return self._nc.jetstream()

    @property
    def connected(self) -> bool:
        """Whether the hub's connection to NATS is up now (started, not reconnecting)."""
        return self._nc is not None and self._nc.is_connected

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate`` holds, re-checking after each ledger commit."""
        await self.recorder.wait_until(predicate, timeout)

    async def _checkpoint_loop(self) -> None:
        """Publish the chain's head now and then, so a copy kept elsewhere can attest it."""
        stopping = self.recorder.stopping
        published: tuple[int, str, str] | None = None
        last_checkpoint = ""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.checkpoint_interval)
            if stopping.is_set():
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
                await publishing.publish_message(self.transport, checkpoint)
                published, last_checkpoint = head, checkpoint.id
            except Exception:  # the next interval tries again
                log.exception("checkpoint failed")
