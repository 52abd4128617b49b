"""A request addressed to the agency, with the institutional steps it can take on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from schemas.envelope import Envelope
from schemas.responses import (
    Acceptance,
    AcceptanceBody,
    Acknowledgement,
    AcknowledgementBody,
    CommitmentMade,
    Decline,
    DeclineBody,
    DeclineReason,
    ProvisionalAnswer,
    ProvisionalBody,
)

if TYPE_CHECKING:
    from bus.runtime.agency.client import AgencyClient


@dataclass(frozen=True)
class IncomingRequest:
    """A request addressed to this agency, with the steps the agency can take on it."""

    message: Envelope
    client: AgencyClient

    @property
    def id(self) -> str:
        return self.message.id

    async def acknowledge(self, official_role: str, note: str | None = None) -> Acknowledgement:
        body = AcknowledgementBody(official_role=official_role, note=note)
        return await self.client.answer(Acknowledgement, self.message, body)

    async def accept(self, note: str | None = None) -> Acceptance:
        return await self.client.answer(Acceptance, self.message, AcceptanceBody(note=note))

    async def decline(self, reason_code: DeclineReason | str, explanation: str) -> Decline:
        body = DeclineBody(reason_code=DeclineReason(reason_code), explanation=explanation)
        return await self.client.answer(Decline, self.message, body)

    async def provisional(
        self, reason: str, decide_by: datetime | None = None
    ) -> ProvisionalAnswer:
        body = ProvisionalBody(reason=reason, decide_by=decide_by)
        return await self.client.answer(ProvisionalAnswer, self.message, body)

    async def commit(self, commitment_id: str, action: str, due: datetime) -> CommitmentMade:
        return await self.client.commit(self.message, commitment_id, action, due)
