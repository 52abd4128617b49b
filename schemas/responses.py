"""Response family: what an agency answers to a request, from receipt to kept commitments."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from schemas.common import EvidenceRef
from schemas.envelope import Body, Envelope, Family, LongText, ShortText, UtcDatetime
from schemas.registry import AgencyKind

RESPONDERS = frozenset(
    {AgencyKind.GOVERNMENT, AgencyKind.COMMISSION, AgencyKind.PROSECUTOR, AgencyKind.SHELTER}
)
CommitmentId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")]


class DeclineReason(StrEnum):
    NOT_COMPETENT = "not_competent"
    INSUFFICIENT_RESOURCES = "insufficient_resources"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    ALREADY_ATTENDED = "already_attended"
    BENEFICIARY_REFUSED = "beneficiary_refused"
    OTHER = "other"


class DeliveryReceiptBody(Body):
    """Technical receipt, sent automatically by the agency client on delivery."""

    received_at: UtcDatetime
    client: ShortText | None = None


class AcknowledgementBody(Body):
    """The institutional "acuse de recibo", given by a named official role."""

    official_role: ShortText
    note: LongText | None = None


class AcceptanceBody(Body):
    note: LongText | None = None


class DeclineBody(Body):
    reason_code: DeclineReason
    explanation: LongText


class ProvisionalBody(Body):
    reason: LongText
    decide_by: UtcDatetime | None = None


class CommitmentBody(Body):
    commitment_id: CommitmentId
    action: LongText
    due: UtcDatetime


class ProgressBody(Body):
    commitment_id: CommitmentId
    summary: LongText
    percent_complete: int | None = Field(default=None, ge=0, le=100)


class FulfilmentBody(Body):
    commitment_id: CommitmentId
    evidence: tuple[EvidenceRef, ...] = Field(min_length=1, max_length=20)


class PartialFulfilmentBody(Body):
    commitment_id: CommitmentId
    evidence: tuple[EvidenceRef, ...] = Field(min_length=1, max_length=20)
    shortfall: LongText


class WithdrawalBody(Body):
    commitment_id: CommitmentId
    reason: LongText


class _Response(Envelope):
    """A response: sent by the addressed agency; correlationid names the request."""

    family: ClassVar[Family] = Family.RESPONSE
    senders: ClassVar[frozenset[AgencyKind]] = RESPONDERS

    @model_validator(mode="after")
    def _names_request(self) -> _Response:
        if self.correlation_id is None:
            raise ValueError(f"{self.type} needs correlationid: the id of the request it answers")
        return self


class DeliveryReceipt(_Response):
    type: Literal["mech.response.delivery_receipt.v1"] = "mech.response.delivery_receipt.v1"
    data: DeliveryReceiptBody


class Acknowledgement(_Response):
    type: Literal["mech.response.acknowledgement.v1"] = "mech.response.acknowledgement.v1"
    data: AcknowledgementBody


class Acceptance(_Response):
    type: Literal["mech.response.accepted.v1"] = "mech.response.accepted.v1"
    data: AcceptanceBody


class Decline(_Response):
    type: Literal["mech.response.declined.v1"] = "mech.response.declined.v1"
    data: DeclineBody


class ProvisionalAnswer(_Response):
    type: Literal["mech.response.provisional.v1"] = "mech.response.provisional.v1"
    data: ProvisionalBody


class CommitmentMade(_Response):
    type: Literal["mech.response.commitment_made.v1"] = "mech.response.commitment_made.v1"
    data: CommitmentBody


class ProgressReport(_Response):
    type: Literal["mech.response.progress_report.v1"] = "mech.response.progress_report.v1"
    data: ProgressBody


class CommitmentFulfilled(_Response):
    type: Literal["mech.response.commitment_fulfilled.v1"] = "mech.response.commitment_fulfilled.v1"
    data: FulfilmentBody


class CommitmentPartiallyFulfilled(_Response):
    type: Literal["mech.response.commitment_partially_fulfilled.v1"] = (
        "mech.response.commitment_partially_fulfilled.v1"
    )
    data: PartialFulfilmentBody


class CommitmentWithdrawn(_Response):
    type: Literal["mech.response.commitment_withdrawn.v1"] = "mech.response.commitment_withdrawn.v1"
    data: WithdrawalBody


DECISIONS = (Acceptance, Decline, ProvisionalAnswer)
COMMITMENT_MESSAGES = (
    CommitmentMade,
    ProgressReport,
    CommitmentFulfilled,
    CommitmentPartiallyFulfilled,
    CommitmentWithdrawn,
)
