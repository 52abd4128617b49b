"""Tracking family: what the hub itself says: overdue notices, escalations, rejections."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.envelope import (
    AgencyId,
    Body,
    Envelope,
    Family,
    LongText,
    SessionId,
    ShortText,
    UtcDatetime,
)
from schemas.registry import FEDERAL_KINDS, AgencyKind

HUB = frozenset({AgencyKind.SYSTEM})
BOARD = frozenset({AgencyKind.BOARD, AgencyKind.FEDERAL})


class EscalationLevel(StrEnum):
    REMINDER = "reminder"
    AUTHORITY_NOTICE = "authority_notice"
    BOARD_AGENDA = "board_agenda"
    MONTHLY_REPORT = "monthly_report"


class RejectionReason(StrEnum):
    MALFORMED = "malformed"  # not JSON, or not a JSON object
    OVERSIZE = "oversize"
    SCHEMA = "schema"  # fails the message schema
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_AGENCY = "unknown_agency"
    SPOOFED_SOURCE = "spoofed_source"  # source is not the agency the subject belongs to
    WRONG_SUBJECT = "wrong_subject"  # published on a subject that does not match the message
    ILLEGAL_TRANSITION = "illegal_transition"
    UNKNOWN_REQUEST = "unknown_request"
    NOT_ADDRESSED = "not_addressed"  # the sender is not a recipient of the request
    DUPLICATE = "duplicate"
    EXPIRED = "expired"
    NO_CAPACITY = "no_capacity"  # a placement the shelter has no room for
    INVALID_DATES = "invalid_dates"  # dates in the future, or in an impossible order
    # a Board summons of a state authority without the beneficiary's recorded consent
    NO_CONSENT = "no_consent"
    # addressed to an agency named presumed aggressor on the message's case
    PRESUMED_AGGRESSOR = "presumed_aggressor"
    # the bus itself failed to record it, delivery after delivery: kept for federal staff
    UNDELIVERABLE = "undeliverable"


class FieldError(Body):
    location: str = Field(max_length=200)
    problem: str = Field(max_length=500)


class RejectedBody(Body):
    reason: RejectionReason
    detail: LongText
    errors: tuple[FieldError, ...] = Field(default=(), max_length=50)
    rejected_id: str | None = Field(default=None, max_length=100)
    rejected_subject: str = Field(max_length=300)
    stream_sequence: int | None = None


class EscalationBody(Body):
    """One step of the escalation ladder for one obligation of one agency."""

    request_id: str = Field(max_length=100)
    agency: AgencyId  # the agency that owes the answer
    clock: str = Field(max_length=40)  # which deadline (see the policy file)
    commitment_id: str | None = Field(default=None, max_length=64)
    level: EscalationLevel
    due_at: UtcDatetime
    to_agency: AgencyId  # who is told at this step
    board_session_id: str | None = Field(default=None, max_length=64)
    authority_to_summon: AgencyId | None = None
    note: LongText | None = None


class ReminderBody(Body):
    """A reminder sent by hand (federal staff), outside the ladder."""

    request_id: str = Field(max_length=100)
    due_at: UtcDatetime
    what: ShortText


class BoardSessionBody(Body):
    session_id: SessionId
    scheduled_at: UtcDatetime
    venue: ShortText


class BoardConsentBody(Body):
    """The beneficiary's consent (or its withdrawal) to invite state authorities to a Board
    session about their case. Names no one: the case is the envelope's subject."""

    given: bool  # False: withdrawn
    # the authorities the consent covers; empty: every state authority
    agencies: tuple[AgencyId, ...] = Field(default=(), max_length=50)
    recorded_by: ShortText  # the official role that recorded it, never a person's name


class AttendanceBody(Body):
    session_id: SessionId
    agency: AgencyId
    attended: bool
    note: LongText | None = None


class AggressorAction(StrEnum):
    SET = "set"
    LIFTED = "lifted"


class PresumedAggressorBody(Body):
    """An agency named (or no longer named) presumed aggressor on the case in ``subject``.

    It names the agency and the official role that decided it, never a person.
    """

    agency: AgencyId
    action: AggressorAction
    official_role: ShortText


class _FromHub(Envelope):
    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = HUB


class Rejected(_FromHub):
    type: Literal["mech.tracking.rejected.v1"] = "mech.tracking.rejected.v1"
    data: RejectedBody


class AcknowledgementOverdue(_FromHub):
    """First rung for an unanswered request: told to the agency itself at the deadline."""

    type: Literal["mech.tracking.acknowledgement_overdue.v1"] = (
        "mech.tracking.acknowledgement_overdue.v1"
    )
    data: EscalationBody


class CommitmentOverdue(_FromHub):
    """First rung for a commitment past its due date: told to the agency that made it."""

    type: Literal["mech.tracking.commitment_overdue.v1"] = "mech.tracking.commitment_overdue.v1"
    data: EscalationBody


class Escalated(_FromHub):
    """Higher rungs: the state's highest authority, the Board's agenda, the monthly report."""

    type: Literal["mech.tracking.escalated.v1"] = "mech.tracking.escalated.v1"
    data: EscalationBody


class Reminder(Envelope):
    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = FEDERAL_KINDS
    type: Literal["mech.tracking.reminder.v1"] = "mech.tracking.reminder.v1"
    data: ReminderBody


class CheckpointBody(Body):
    """The head of the ledger's hash chain at a moment, for copies held elsewhere to attest."""

    last_seq: int = Field(ge=1)
    last_message_id: str = Field(max_length=100)
    chain_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class Checkpoint(_FromHub):
    type: Literal["mech.tracking.checkpoint.v1"] = "mech.tracking.checkpoint.v1"
    data: CheckpointBody


class _FromBoard(Envelope):
    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = BOARD


class BoardSessionScheduled(_FromBoard):
    """The Governing Board's secretariat schedules a session (its agenda fills from escalations)."""

    type: Literal["mech.tracking.board_session_scheduled.v1"] = (
        "mech.tracking.board_session_scheduled.v1"
    )
    data: BoardSessionBody


class BoardAttendance(_FromBoard):
    """Whether a summoned authority attended a Board session."""

    type: Literal["mech.tracking.board_attendance.v1"] = "mech.tracking.board_attendance.v1"
    data: AttendanceBody


class BoardConsent(Envelope):
    """The Mechanism records the beneficiary's consent to invite authorities to the Board."""

    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = frozenset({AgencyKind.FEDERAL})
    type: Literal["mech.tracking.board_consent.v1"] = "mech.tracking.board_consent.v1"
    data: BoardConsentBody

    @model_validator(mode="after")
    def _names_case(self) -> BoardConsent:
        if self.subject is None:
            raise ValueError("a Board consent needs subject: the case number it is about")
        return self


class PresumedAggressor(Envelope):
    """The Mechanism names an agency presumed aggressor on a case, or lifts it. It has no
    recipients: it travels on the Mechanism's own outbox, which no agency reads, so the agency
    is never told; from then on nothing of the case reaches it."""

    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = frozenset({AgencyKind.FEDERAL})
    type: Literal["mech.tracking.presumed_aggressor.v1"] = "mech.tracking.presumed_aggressor.v1"
    data: PresumedAggressorBody

    @model_validator(mode="after")
    def _on_a_case(self) -> PresumedAggressor:
        if self.subject is None:
            raise ValueError("a presumed aggressor is named on a case: subject is the case")
        if self.recipients:
            raise ValueError("a presumed aggressor notice has no recipients")
        return self


ESCALATION_MESSAGES = (AcknowledgementOverdue, CommitmentOverdue, Escalated)
