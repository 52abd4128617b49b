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

from nats.js import JetStreamContext

from bus.domain import subjects
from bus.domain.permissions import HUB
from bus.domain.ports import Delivery, Ledger, LedgerUnavailable, Received, Transport
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
    """Keeps what the dead-letter stream's advisories name; the hub feeds it (``on_batch``)."""

    def __init__(
        self,
        transport: Transport,
        ledger: Ledger,
        failures: Failures,
        after_commit: Callable[[list[Outcome]], Awaitable[None]],
        registry: AgencyRegistry,
    ) -> None:
        self._registry = registry
        self._transport = transport
        self._ledger = ledger
        self._failures = failures
        self._after_commit = after_commit

    async def on_batch(self, batch: list[Received]) -> None:
        for advisory in batch:
            try:
                await self._keep(advisory)
            except LedgerUnavailable:
                await advisory.nak(delay=5.0)  # kept in the stream; try again shortly
                continue
            await advisory.ack()

    async def _keep(self, advisory: Received) -> None:
        try:
            event = json.loads(advisory.data)
            stream_seq, deliveries = int(event["stream_seq"]), int(event.get("deliveries", 0))
        except (ValueError, KeyError, TypeError):
            log.error("unreadable max-deliveries advisory at DLQ seq %s", _seq(advisory))
            return
        original = await self._transport.stored(stream_seq)
        if original is None:
            log.error(
                "stream seq %d reached max deliveries and is gone from the stream", stream_seq
            )
            return
        delivery = Delivery(
            original.subject, original.data, stream_seq, deliveries, stored_at=original.stored_at
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


async def watch_dead_letters(
    js: JetStreamContext, stream: StreamSpec, keeper: UndeliverableKeeper
) -> BatchPuller:
    """Declare ``stream``'s dead-letter stream and its consumer, and feed it to ``keeper``."""
    dlq = dead_letter_stream(stream)
    consumer = dead_letter_consumer(stream)
    await jetstream.ensure_stream(js, dlq)
    await jetstream.ensure_consumer(js, dlq, consumer)
    puller = BatchPuller(
        js,
        dlq.name,
        consumer.durable,
        keeper.on_batch,
        batch_size=16,
        inbox_prefix=subjects.deliver_prefix(HUB),
    )
    await puller.start()
    return puller


def _seq(msg: Received) -> int | str:
    try:
        return msg.stream_seq
    except Exception:  # not a JetStream message after all
        return "?"
