"""The hub's recording loop: each batch of deliveries into the ledger, then settled on the bus.

It speaks to the bus only through its ports (bus.domain.ports), so it runs the same against
JetStream (bus.runtime.hub) and against in-memory fakes. Each batch is recorded in one ledger
transaction; its deliveries are acknowledged only after that transaction commits and any
``rejected`` notice it produced has its confirmation. Nothing is ever terminated: bad input
becomes a dead letter, and a failure of the ledger or of the bus leaves the delivery
unacknowledged, to come back after a growing delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable

from bus.domain.clock import TimeSource, utc_now
from bus.domain.msgids import CopyIds
from bus.domain.policy import Policy
from bus.domain.ports import (
    CapacityBoard,
    Delivery,
    Ledger,
    LedgerUnavailable,
    Publisher,
    Received,
)
from bus.domain.recording import Outcome, Result, record_batch
from bus.domain.rules import Rules
from bus.runtime import metrics, publishing, tracing
from bus.runtime.heap import HeapTrim
from bus.runtime.undeliverable import Failures

log = logging.getLogger("mechbus.hub")

REDELIVERY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
DEFER_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)


class Recorder:
    """Records batches (``on_batch``) and publishes what each commit lets out."""

    def __init__(
        self,
        ledger: Ledger,
        publisher: Publisher,
        *,
        rules: Rules,
        clock: TimeSource | None = None,
        defer_unknown_for: float = 90.0,
        copy_ids: CopyIds | None = None,
        failures: Failures | None = None,
        wall: TimeSource | None = None,
    ) -> None:
        self.ledger = ledger
        self.publisher = publisher
        self.rules = rules
        # None: each message is recorded at the moment the stream stored it (see
        # bus.domain.ports.Delivery.stored_at), so replaying the stream rebuilds the ledger.
        self.clock = clock
        self.defer_unknown_for = defer_unknown_for
        self.copy_ids = copy_ids
        self.failures = failures or Failures()
        self.capacity: CapacityBoard | None = None  # once the bucket is there
        # the transport's clock: message age, not domain time
        self.wall = wall or utc_now
        self.stopping = asyncio.Event()
        self.recorded = 0
        self.dead_letters = 0
        self._committed = asyncio.Condition()
        self._heap = HeapTrim()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate`` holds, re-checking after each ledger commit."""
        async with self._committed:
            await asyncio.wait_for(self._committed.wait_for(predicate), timeout)

    @property
    def policy(self) -> Policy:
        policy = self.rules.policy
        assert policy is not None  # the hub always records under a policy
        return policy

    async def on_batch(self, batch: list[Received]) -> None:
        wall = self.wall()
        deliveries = [
            Delivery(
                m.subject,
                m.data,
                m.stream_seq,
                m.attempt,
                may_wait=(wall - m.stored_at).total_seconds() < self.defer_unknown_for,
                stored_at=m.stored_at,
                headers=m.headers,
            )
            for m in batch
        ]
        try:
            outcomes = await self._commit_patiently(batch, deliveries)
        except Exception as exc:
            if not batch:  # an empty fetch: nothing delivered, nothing to give back
                log.warning("recording an empty batch failed (%s)", type(exc).__name__)
                return
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
        if self._heap.due():  # after the acks: never on the way of the batch it follows
            await asyncio.to_thread(self._heap.trim)

    async def _on_batch_of_one(self, msg: Received, delivery: Delivery) -> None:
        try:
            [outcome] = await self._commit_patiently([msg], [delivery])
        except Exception as exc:
            await self._give_back(msg, exc)
            return
        await self._settle([msg], [outcome])

    async def _commit_patiently(
        self, batch: list[Received], deliveries: list[Delivery]
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
                if self.stopping.is_set():
                    raise
                log.warning("%s; holding %d deliveries, retrying in %.1fs", exc, len(batch), wait)
                await asyncio.gather(*(m.in_progress() for m in batch), return_exceptions=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), wait)
                wait = min(wait * 2, 5.0)

    async def _give_back(self, msg: Received, exc: Exception) -> None:
        """Not recorded: redelivered after a growing delay, up to the max deliveries."""
        attempt = min(msg.attempt, len(REDELIVERY_DELAYS))
        delay = REDELIVERY_DELAYS[attempt - 1]
        self.failures.note(msg.stream_seq, exc)
        log.warning(
            "recording stream seq %d failed (%s, delivery %d); redelivery in %.1fs",
            msg.stream_seq,
            type(exc).__name__,
            msg.attempt,
            delay,
        )
        with contextlib.suppress(Exception):  # NATS away: it comes back after ack_wait anyway
            await msg.nak(delay=delay)

    async def _settle(self, batch: list[Received], outcomes: list[Outcome]) -> None:
        # Acknowledged only now: the ledger has committed and every notice has its PubAck.
        for msg, outcome in zip(batch, outcomes, strict=True):
            # One after the other: an ack only queues a few bytes on the connection, and a
            # task per ack would cost more than the ack itself.
            if outcome.result is Result.DEFERRED:
                await msg.nak(delay=self._deferral(msg))
            else:
                self.failures.forget(outcome.stream_seq)
                await msg.ack()

    def _deferral(self, msg: Received) -> float:
        """Wait longer each time, never past the horizon by much."""
        attempt = min(msg.attempt, len(DEFER_DELAYS))
        return min(DEFER_DELAYS[attempt - 1], max(self.defer_unknown_for / 4, 0.05))

    async def _commit(self, deliveries: list[Delivery]) -> list[Outcome]:
        now = self.clock() if self.clock is not None else None
        started, began = time.perf_counter(), tracing.now()
        outcomes = await asyncio.to_thread(record_batch, self.ledger, deliveries, now, self.rules)
        metrics.LEDGER_COMMIT_SECONDS.observe(time.perf_counter() - started)
        await self.after_commit(outcomes)
        tracing.recorded(deliveries, outcomes, began)
        return outcomes

    async def after_commit(self, outcomes: list[Outcome]) -> None:
        """Tell senders about refusals, let out what recorded placements release, publish
        capacities, count, and wake the waiters."""
        notices = [o.notice for o in outcomes if o.notice is not None]
        if notices:
            await asyncio.gather(
                *(
                    publishing.publish_message(
                        self.publisher, notice, copy_ids=self.copy_ids, registry=self.rules.registry
                    )
                    for notice in notices
                )
            )
        await self._let_out(o for o in outcomes if o.releases)
        for outcome in outcomes:
            if outcome.capacity is not None and self.capacity is not None:
                document = json.dumps(outcome.capacity.as_json(), ensure_ascii=False)
                await self.capacity.put(outcome.capacity.shelter, document.encode())
            # The metrics by type and reason: labels from the contract only, whatever a sender
            # put in a message.
            if outcome.reason is not None:
                self.dead_letters += 1
                kind = metrics.type_label(outcome.type)
                metrics.MESSAGES_DEAD_LETTERED.labels(kind, outcome.reason.value).inc()
            elif outcome.result is Result.RECORDED:
                self.recorded += 1
                metrics.MESSAGES_RECORDED.labels(metrics.type_label(outcome.type)).inc()
        self._log_outcomes(outcomes)
        async with self._committed:
            self._committed.notify_all()

    def _log_outcomes(self, outcomes: list[Outcome]) -> None:
        """Each outcome as one log line: ids, type, sender, stream sequence and reason only,
        never the body (it may carry personal data). Only refusals log at INFO: the rest is
        skipped without building its line unless DEBUG is on (this runs for every message)."""
        debug = log.isEnabledFor(logging.DEBUG)
        for outcome in outcomes:
            if outcome.reason is None and not debug:
                continue
            fields = {
                "message_id": outcome.message_id,
                "type": outcome.type,
                "sender": outcome.sender,
                "stream_seq": outcome.stream_seq,
                "reason": outcome.reason.value if outcome.reason is not None else None,
            }
            unknown = "-"  # a refused message may have no type, id or sender one can name
            said = (
                outcome.type or unknown,
                outcome.message_id or unknown,
                outcome.sender or unknown,
                outcome.stream_seq,
            )
            if outcome.reason is not None:
                log.info(
                    "dead letter (%s): %s %s from %s at stream seq %d",
                    outcome.reason.value,
                    *said,
                    extra=fields,
                )
            elif outcome.result is Result.RECORDED:
                log.debug("recorded %s %s from %s at stream seq %d", *said, extra=fields)
            else:  # another copy, a redelivery, a response deferred until its request
                log.debug(
                    "%s: %s %s from %s at stream seq %d", outcome.result.value, *said, extra=fields
                )

    async def _let_out(self, outcomes: Iterable[Outcome]) -> None:
        """Publish, now that the ledger holds each placement, the shelter's copy of its
        confirmation and the release of the other offers. A failure here leaves the
        confirmation unacknowledged: redelivered, it yields the same messages again."""
        for outcome in outcomes:
            for release in outcome.releases:
                await publishing.publish_release(self.publisher, release, copy_ids=self.copy_ids)
