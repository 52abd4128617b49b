"""Messages the hub gave up on: the server's max-deliveries advisories become kept dead letters.

When the hub fails to record a message ``HUB_MAX_DELIVER`` times (a bug a message triggers, not
a ledger that is down: the hub waits that out), JetStream stops redelivering it and publishes
an advisory, which the dead-letter stream keeps. Here each advisory is read, the message it
names is fetched from the main stream, and it is kept in the ledger as an ``undeliverable``
dead letter with the last error seen, and its sender is told. Nothing vanishes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bus.domain import subjects
from bus.domain.permissions import HUB
from bus.domain.ports import Delivery, Ledger, LedgerUnavailable
from bus.domain.recording import Outcome, record_undeliverable
from bus.domain.streams import StreamSpec, dead_letter_consumer, dead_letter_stream
from bus.runtime import jetstream
from bus.runtime.puller import BatchPuller
from schemas.registry import AgencyRegistry

log = logging.getLogger("mechbus.undeliverable")

KEPT_FAILURES = 10_000


def error_summary(exc: BaseException, limit: int = 200) -> str:
    """An error's type and first line only: later lines of an SQL error quote parameters,
    which may be personal."""
    first_line = (str(exc).splitlines() or [""])[0][:limit]
    return f"{type(exc).__name__}: {first_line}".rstrip(": ")


class Failures:
    """The last error the hub met per stream sequence (``error_summary``)."""

    def __init__(self, limit: int = KEPT_FAILURES) -> None:
        self._last: OrderedDict[int, str] = OrderedDict()
        self._limit = limit

    def note(self, stream_seq: int, exc: BaseException) -> None:
        self._last[stream_seq] = error_summary(exc)
        self._last.move_to_end(stream_seq)
        while len(self._last) > self._limit:
            self._last.popitem(last=False)

    def forget(self, stream_seq: int) -> None:
        self._last.pop(stream_seq, None)

    def last(self, stream_seq: int) -> str:
        return self._last.pop(stream_seq, "not seen by this hub process (it restarted since)")


class UndeliverableKeeper:
    """Consumes the dead-letter stream for the hub; started and stopped with it."""

    def __init__(
        self,
        js: JetStreamContext,
        ledger: Ledger,
        stream: StreamSpec,
        failures: Failures,
        after_commit: Callable[[list[Outcome]], Awaitable[None]],
        registry: AgencyRegistry,
    ) -> None:
        self._js = js
        self._ledger = ledger
        self._stream = stream
        self._failures = failures
        self._after_commit = after_commit
        self._registry = registry
        self._puller: BatchPuller | None = None

    async def start(self) -> None:
        dlq = dead_letter_stream(self._stream)
        consumer = dead_letter_consumer(self._stream)
        await jetstream.ensure_stream(self._js, dlq)
        await jetstream.ensure_consumer(self._js, dlq, consumer)
        self._puller = BatchPuller(
            self._js,
            dlq.name,
            consumer.durable,
            self._on_batch,
            batch_size=16,
            inbox_prefix=subjects.deliver_prefix(HUB),
        )
        await self._puller.start()

    async def stop(self) -> None:
        if self._puller is not None:
            await self._puller.stop()
            self._puller = None

    async def _on_batch(self, batch: list[Msg]) -> None:
        for advisory in batch:
            try:
                await self._keep(advisory)
            except LedgerUnavailable:
                await advisory.nak(delay=5.0)  # kept in the stream; try again shortly
                continue
            await advisory.ack()

    async def _keep(self, advisory: Msg) -> None:
        try:
            event = json.loads(advisory.data)
            stream_seq, deliveries = int(event["stream_seq"]), int(event.get("deliveries", 0))
        except (ValueError, KeyError, TypeError):
            log.error("unreadable max-deliveries advisory at DLQ seq %s", _seq(advisory))
            return
        try:
            original = await self._js.get_msg(self._stream.name, stream_seq)
        except NotFoundError:
            log.error(
                "stream seq %d reached max deliveries and is gone from the stream", stream_seq
            )
            return
        delivery = Delivery(
            original.subject or "",
            original.data or b"",
            stream_seq,
            deliveries,
            stored_at=original.time,
        )
        detail = (
            f"the hub could not record this message after {deliveries} deliveries (last "
            f"error: {self._failures.last(stream_seq)}); it is kept for federal staff, "
            "who can send it again with `mechbus dlq retry`"
        )
        outcome = await asyncio.to_thread(
            record_undeliverable, self._ledger, delivery, detail, self._registry
        )
        log.warning(
            "stream seq %d kept as undeliverable after %d deliveries", stream_seq, deliveries
        )
        await self._after_commit([outcome])


def _seq(msg: Msg) -> int | str:
    try:
        return msg.metadata.sequence.stream
    except Exception:  # not a JetStream message after all
        return "?"
