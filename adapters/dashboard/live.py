"""Live updates: one poller of the ledger's newest message, fanned out as server-sent events.

The feed reads the ledger rather than subscribing to the stream: the ledger is what every page
shows, so an event is sent only once the hub has committed what it announces (a page refreshed
on a stream event could still miss the row), and the dashboard needs no NATS credentials to
read. The cost is one indexed ``max`` query per interval, whatever the number of viewers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict

from adapters.ledger.store import SqlLedger
from adapters.readmodel.feed import BusEvent, recorded_since

log = logging.getLogger("mechbus.dashboard")

# What staff want to see arrive; receipts and checkpoints would only be noise.
LIVE_TYPES = (
    "mech.response.acknowledgement.v1",
    "mech.response.accepted.v1",
    "mech.response.declined.v1",
    "mech.response.provisional.v1",
    "mech.response.commitment_made.v1",
    "mech.response.commitment_fulfilled.v1",
    "mech.tracking.acknowledgement_overdue.v1",
    "mech.tracking.commitment_overdue.v1",
    "mech.tracking.escalated.v1",
    "mech.capacity.placement_offer.v1",
    "mech.capacity.placement_confirmed.v1",
    "mech.request.protection_measure.v1",
    "mech.request.investigation.v1",
    "mech.request.information.v1",
    "mech.request.relocation.v1",
)


class LedgerFeed:
    """Polls the ledger and hands each new interesting message to every listener."""

    def __init__(self, ledger: SqlLedger, interval: float = 1.0) -> None:
        self.ledger = ledger
        self.interval = interval
        self._listeners: set[asyncio.Queue[BusEvent | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._last: int | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mechbus-dashboard-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for queue in self._listeners:
            queue.put_nowait(None)  # every open stream ends

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[BusEvent | None]]:
        queue: asyncio.Queue[BusEvent | None] = asyncio.Queue(maxsize=200)
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    def _head(self) -> int:
        head = self.ledger.last_link()
        return head[0] if head else 0

    def _since(self, after: int) -> list[BusEvent]:
        with self.ledger.session() as session:
            return recorded_since(session, after, LIVE_TYPES)

    async def poll_once(self) -> list[BusEvent]:
        head = await asyncio.to_thread(self._head)
        if self._last is None:  # what was there before the dashboard started is on the pages
            self._last = head
            return []
        if head <= self._last:
            return []
        events = await asyncio.to_thread(self._since, self._last)
        self._last = head
        for event in events:
            for queue in list(self._listeners):
                if queue.full():  # a stalled viewer: it reloads, nobody else waits for it
                    continue
                queue.put_nowait(event)
        return events

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # the ledger restarting: try again at the next interval
                log.warning("live feed could not read the ledger", exc_info=True)
            await asyncio.sleep(self.interval)


def sse(event: BusEvent, label: str) -> str:
    """One server-sent event; ``label`` is the sentence shown, in the viewer's language."""
    data = json.dumps({**asdict(event), "label": label}, ensure_ascii=False)
    return f"id: {event.seq}\nevent: bus\ndata: {data}\n\n"
