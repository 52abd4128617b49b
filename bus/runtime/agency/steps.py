"""The institutional steps an agency takes on a request: commitments, progress, fulfilment,
withdrawal, and a shelter's capacity, offers, arrivals and departures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from bus.domain.ports import Published
from bus.runtime.agency.replies import E
from schemas.capacity import (
    CapacityBody,
    CapacityUpdate,
    PlacementArrived,
    PlacementArrivedBody,
    PlacementEnded,
    PlacementEndedBody,
    PlacementOffer,
    PlacementOfferBody,
)
from schemas.common import EvidenceRef
from schemas.envelope import Body, Envelope
from schemas.responses import (
    CommitmentBody,
    CommitmentFulfilled,
    CommitmentMade,
    CommitmentPartiallyFulfilled,
    CommitmentWithdrawn,
    FulfilmentBody,
    PartialFulfilmentBody,
    ProgressBody,
    ProgressReport,
    WithdrawalBody,
)


class AgencySteps:
    """Each step builds its response and sends it through the client (``answer``, ``send``)."""

    agency: str
    clock: Callable[[], datetime]

    async def send(self, message: Envelope) -> list[Published]:
        raise NotImplementedError

    async def answer(self, cls: type[E], request: Envelope, body: Body) -> E:
        raise NotImplementedError

    async def commit(
        self, request: Envelope, commitment_id: str, action: str, due: datetime
    ) -> CommitmentMade:
        """Commit to an action with a due date (after accepting the request)."""
        body = CommitmentBody(commitment_id=commitment_id, action=action, due=due)
        return await self.answer(CommitmentMade, request, body)

    async def report_progress(
        self, request: Envelope, commitment_id: str, summary: str, percent: int | None = None
    ) -> ProgressReport:
        body = ProgressBody(commitment_id=commitment_id, summary=summary, percent_complete=percent)
        return await self.answer(ProgressReport, request, body)

    async def fulfil(
        self, request: Envelope, commitment_id: str, evidence: list[str]
    ) -> CommitmentFulfilled:
        """Evidence is a list of references (file numbers, document URIs), never the files."""
        refs = tuple(EvidenceRef(reference=ref) for ref in evidence)
        body = FulfilmentBody(commitment_id=commitment_id, evidence=refs)
        return await self.answer(CommitmentFulfilled, request, body)

    async def fulfil_partly(
        self, request: Envelope, commitment_id: str, evidence: list[str], shortfall: str
    ) -> CommitmentPartiallyFulfilled:
        refs = tuple(EvidenceRef(reference=ref) for ref in evidence)
        body = PartialFulfilmentBody(
            commitment_id=commitment_id, evidence=refs, shortfall=shortfall
        )
        return await self.answer(CommitmentPartiallyFulfilled, request, body)

    async def withdraw(
        self, request: Envelope, commitment_id: str, reason: str
    ) -> CommitmentWithdrawn:
        body = WithdrawalBody(commitment_id=commitment_id, reason=reason)
        return await self.answer(CommitmentWithdrawn, request, body)

    async def publish_capacity(self, **capacity: Any) -> CapacityUpdate:
        """A shelter reports its capacity (spaces now, in 24 h, in 72 h, constraints...)."""
        update = CapacityUpdate(
            source=self.agency, time=self.clock(), data=CapacityBody(**capacity)
        )
        await self.send(update)
        return update

    async def offer(
        self, request: Envelope, spaces: int, available_from: date, note: str | None = None
    ) -> PlacementOffer:
        body = PlacementOfferBody(spaces=spaces, available_from=available_from, note=note)
        return await self.answer(PlacementOffer, request, body)

    async def arrived(self, request: Envelope, people: int, on: date) -> PlacementArrived:
        body = PlacementArrivedBody(people=people, arrived_on=on)
        return await self.answer(PlacementArrived, request, body)

    async def departed(
        self, request: Envelope, people: int, on: date, reason: str
    ) -> PlacementEnded:
        body = PlacementEndedBody(people=people, ended_on=on, reason=reason)
        return await self.answer(PlacementEnded, request, body)
