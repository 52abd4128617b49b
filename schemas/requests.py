"""Request family: what the Mechanism asks of state agencies, the Board and shelters."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.common import PersonalDetails
from schemas.envelope import (
    Body,
    Day,
    Envelope,
    Family,
    LongText,
    SessionId,
    ShortText,
    StateCode,
    UtcDatetime,
)
from schemas.iachr import McNumber
from schemas.measures import BeneficiaryRole as BeneficiaryRole
from schemas.measures import MeasureKind as MeasureKind
from schemas.registry import FEDERAL_KINDS, AgencyKind


class _OpeningBody(Body):
    """What every request that opens a thread may carry besides its own fields."""

    # Why the Mechanism sent it although the addressing rules expected another kind or state
    # of recipient, or it asks for a date beyond the legal limit (set only then; no names).
    override_reason: ShortText | None = None


class ProtectionMeasureBody(_OpeningBody):
    measures: tuple[MeasureKind, ...] = Field(min_length=1)
    beneficiary_role: BeneficiaryRole
    state: StateCode
    municipality: ShortText | None = None
    instructions: LongText
    implement_by: UtcDatetime | None = None
    # When the Board decided these measures: the ordinary legal limit on implementing them
    # runs from it (LPPDDHP art. 29 fr. II); absent, from the request's ``time``.
    decided_at: UtcDatetime | None = None
    legal_basis: ShortText | None = None
    # Set when these measures also implement an IACHR precautionary measure (its MC number),
    # so one implementation meeting can follow both instruments.
    iachr_precautionary_measure: McNumber | None = None
    personal: PersonalDetails | None = None


class InvestigationBody(_OpeningBody):
    aggression: ShortText
    occurred_on: Day | None = None
    # where the aggression happened, so the prosecutor knows which of its offices acts
    municipality: ShortText | None = None
    facts_summary: LongText
    investigation_file: ShortText | None = None
    steps_requested: tuple[ShortText, ...] = ()
    iachr_precautionary_measure: McNumber | None = None
    personal: PersonalDetails | None = None


class InformationBody(_OpeningBody):
    question: LongText
    answer_by: UtcDatetime | None = None


class BoardSummonsBody(_OpeningBody):
    session_id: SessionId
    session_at: UtcDatetime
    venue: ShortText
    agenda_item: ShortText
    authority_summoned: ShortText


class RelocationBody(_OpeningBody):
    people: int = Field(ge=1, le=50)
    adults: int = Field(ge=0, le=50)
    children: int = Field(ge=0, le=50)
    needs: tuple[ShortText, ...] = ()
    origin_state: StateCode
    earliest: Day
    expected_days: int = Field(ge=1, le=730)
    accessibility_required: bool = False
    preferred_regions: tuple[ShortText, ...] = ()
    personal: tuple[PersonalDetails, ...] = ()

    @model_validator(mode="after")
    def _people_add_up(self) -> RelocationBody:
        if self.adults + self.children != self.people:
            raise ValueError("adults + children must equal people")
        return self


class ImplementationMeetingBody(_OpeningBody):
    meeting_at: UtcDatetime
    venue: ShortText
    agenda: tuple[ShortText, ...] = Field(min_length=1)
    iachr_precautionary_measure: McNumber | None = None


class RecallBody(Body):
    reason: LongText


class UpdateBody(Body):
    changes: LongText
    implement_by: UtcDatetime | None = None
    # Why the Mechanism asks for an implement_by beyond the request's legal limit (only then).
    override_reason: ShortText | None = None


class _Request(Envelope):
    """A request: sent by the Mechanism (or the Board) to one or more agencies."""

    family: ClassVar[Family] = Family.REQUEST
    senders: ClassVar[frozenset[AgencyKind]] = FEDERAL_KINDS

    @model_validator(mode="after")
    def _addressed(self) -> _Request:
        if not self.recipients:
            raise ValueError("a request needs at least one recipient")
        if self.source in self.recipients:
            raise ValueError("a request cannot be addressed to its own sender")
        return self


class _Follow(_Request):
    """A message about an earlier request (recall, update): correlation_id names it."""

    @model_validator(mode="after")
    def _names_request(self) -> _Follow:
        if self.correlation_id is None:
            raise ValueError(f"{self.type} needs correlationid: the request it is about")
        return self


class ProtectionMeasureRequest(_Request):
    type: Literal["mech.request.protection_measure.v1"] = "mech.request.protection_measure.v1"
    data: ProtectionMeasureBody


class InvestigationRequest(_Request):
    type: Literal["mech.request.investigation.v1"] = "mech.request.investigation.v1"
    data: InvestigationBody


class InformationRequest(_Request):
    type: Literal["mech.request.information.v1"] = "mech.request.information.v1"
    data: InformationBody


class BoardSummons(_Request):
    """An invitation of authorities to a Board session about one case: it needs the case
    number, because a state authority is invited only with the beneficiary's recorded consent
    (mech.tracking.board_consent.v1), which the hub looks up by it."""

    type: Literal["mech.request.board_summons.v1"] = "mech.request.board_summons.v1"
    data: BoardSummonsBody

    @model_validator(mode="after")
    def _names_case(self) -> BoardSummons:
        if self.subject is None:
            raise ValueError("a Board summons needs subject: the case number it is about")
        return self


class RelocationRequest(_Request):
    type: Literal["mech.request.relocation.v1"] = "mech.request.relocation.v1"
    data: RelocationBody


class ImplementationMeetingNotice(_Request):
    type: Literal["mech.request.implementation_meeting.v1"] = (
        "mech.request.implementation_meeting.v1"
    )
    data: ImplementationMeetingBody


class RequestRecall(_Follow):
    type: Literal["mech.request.recall.v1"] = "mech.request.recall.v1"
    data: RecallBody


class RequestUpdate(_Follow):
    type: Literal["mech.request.update.v1"] = "mech.request.update.v1"
    data: UpdateBody


OPENING_REQUESTS = (
    ProtectionMeasureRequest,
    InvestigationRequest,
    InformationRequest,
    BoardSummons,
    RelocationRequest,
    ImplementationMeetingNotice,
)
FOLLOW_UPS = (RequestRecall, RequestUpdate)
