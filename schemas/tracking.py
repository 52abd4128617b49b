"""Tracking family: what the hub itself says: overdue notices, escalations, rejections."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from schemas.envelope import AgencyId, Body, Envelope, Family, LongText, ShortText, UtcDatetime
from schemas.registry import AgencyKind

HUB = frozenset({AgencyKind.SYSTEM})


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


class OverdueBody(Body):
    request_id: str = Field(max_length=100)
    agency: AgencyId
    due_at: UtcDatetime
    commitment_id: str | None = Field(default=None, max_length=64)


class EscalatedBody(Body):
    request_id: str = Field(max_length=100)
    level: EscalationLevel
    about_agency: AgencyId
    to_agency: AgencyId
    due_at: UtcDatetime
    note: LongText | None = None


class ReminderBody(Body):
    request_id: str = Field(max_length=100)
    due_at: UtcDatetime
    what: ShortText


class _FromHub(Envelope):
    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = HUB


class Rejected(_FromHub):
    type: Literal["mech.tracking.rejected.v1"] = "mech.tracking.rejected.v1"
    data: RejectedBody


class AcknowledgementOverdue(_FromHub):
    type: Literal["mech.tracking.acknowledgement_overdue.v1"] = (
        "mech.tracking.acknowledgement_overdue.v1"
    )
    data: OverdueBody


class CommitmentOverdue(_FromHub):
    type: Literal["mech.tracking.commitment_overdue.v1"] = "mech.tracking.commitment_overdue.v1"
    data: OverdueBody


class Escalated(_FromHub):
    type: Literal["mech.tracking.escalated.v1"] = "mech.tracking.escalated.v1"
    data: EscalatedBody


class Reminder(_FromHub):
    type: Literal["mech.tracking.reminder.v1"] = "mech.tracking.reminder.v1"
    data: ReminderBody
