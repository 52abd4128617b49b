"""The CloudEvents 1.0 envelope every mechbus message travels in, and the field types it uses."""

from __future__ import annotations

import functools
import secrets
import time
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from schemas.registry import AGENCY_ID_PATTERN, AgencyKind, active_registry

SPECVERSION = "1.0"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_message_id(at: datetime | None = None) -> str:
    """A ULID: 48-bit millisecond timestamp + 80 random bits, so ids sort by creation time."""
    millis = int((at.timestamp() if at else time.time()) * 1000)
    value = (millis << 80) | int.from_bytes(secrets.token_bytes(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""Times and dates outside these are refused: none is meaningful for the Mechanism, and far
ones overflow date arithmetic (deadlines, escalation rungs) and database ranges."""
_RANGE = f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"


def _utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last representable moment
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"time must lie between {_RANGE}")
    return utc


def _plausible_day(value: date) -> date:
    if not EARLIEST.date() <= value <= LATEST.date():
        raise ValueError(f"date must lie between {_RANGE}")
    return value


def _registered_agency(value: str) -> str:
    if value not in active_registry():
        raise ValueError(f"unknown agency {value!r}: not in the agency registry")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware timestamp, normalised to UTC; naive or far-off timestamps are refused."""
Day = Annotated[date, AfterValidator(_plausible_day)]
"""A calendar date between ``EARLIEST`` and ``LATEST``."""

AgencyId = Annotated[
    str,
    StringConstraints(pattern=AGENCY_ID_PATTERN, max_length=64),
    AfterValidator(_registered_agency),
]
MESSAGE_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{7,99}$"
MessageId = Annotated[str, StringConstraints(pattern=MESSAGE_ID_PATTERN)]
CaseRef = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9/-]{2,39}$")]
StateCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
SessionId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")]
"""A Governing Board session's id, as the Board's secretariat gives it (JG-2026-04)."""
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]


class Urgency(StrEnum):
    URGENT = "urgent"
    ORDINARY = "ordinary"


class Confidentiality(StrEnum):
    """Need-to-know class of a message: how far its content may travel."""

    PUBLIC = "public"  # aggregate figures, reports
    OPERATIONAL = "operational"  # no personal data; any addressed agency may read it
    PERSONAL = "personal"  # carries personal data of a protected person


class Family(StrEnum):
    REQUEST = "request"
    RESPONSE = "response"
    CAPACITY = "capacity"
    TRACKING = "tracking"


class Body(BaseModel):
    """Base of every message body (the CloudEvents ``data``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@functools.cache
def _kind(model: type[Envelope]) -> str:
    # Once per message class: every message's routes ask for it, and pydantic's model_fields
    # costs more than the split.
    literal = model.model_fields["type"].default
    return str(literal).split(".")[2]


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes plus mechbus extensions (lower-case names, as CloudEvents asks).

    Subclasses pin ``type`` to a literal and ``data`` to a body model; they declare their
    ``family`` and which kinds of agency may send them.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    family: ClassVar[Family]
    senders: ClassVar[frozenset[AgencyKind]]

    specversion: str = Field(default=SPECVERSION, pattern=r"^1\.0$")
    id: MessageId = Field(default_factory=new_message_id)
    type: str
    source: AgencyId
    time: UtcDatetime
    subject: CaseRef | None = None
    datacontenttype: str = Field(default="application/json", pattern=r"^application/json$")
    recipients: tuple[AgencyId, ...] = ()
    correlation_id: MessageId | None = Field(default=None, alias="correlationid")
    causation_id: MessageId | None = Field(default=None, alias="causationid")
    urgency: Urgency = Urgency.ORDINARY
    confidentiality: Confidentiality = Confidentiality.OPERATIONAL
    expires: UtcDatetime | None = None
    data: Body

    @classmethod
    def kind(cls) -> str:
        """The short name used in subjects: ``mech.request.investigation.v1`` -> investigation."""
        return _kind(cls)

    @model_validator(mode="after")
    def _sender_may_send(self) -> Envelope:
        agency = active_registry()[self.source]
        if agency.kind not in self.senders:
            allowed = ", ".join(sorted(self.senders))
            raise ValueError(
                f"{self.type} may be sent only by {allowed} agencies, not {agency.kind} "
                f"({self.source})"
            )
        if len(set(self.recipients)) != len(self.recipients):
            raise ValueError("recipients are listed more than once")
        if self.expires is not None and self.expires <= self.time:
            raise ValueError("expires must be later than time")
        return self

    @property
    def thread(self) -> str:
        """The request this message belongs to (its own id for a request)."""
        return self.correlation_id or self.id

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    def describe(self) -> dict[str, Any]:
        """Envelope attributes safe to log: no body, so no personal data."""
        return {"id": self.id, "type": self.type, "source": self.source, "subject": self.subject}
