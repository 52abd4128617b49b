"""IACHR precautionary measures: the MC number, and the message that records a measure's dates."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from schemas.envelope import Body, CaseRef, Day, Envelope, Family, StateCode
from schemas.registry import AgencyKind, state_codes

MC_PATTERN = r"^MC-\d{1,4}-\d{2}$"
MC_FORMAT = "MC-<number of 1 to 4 digits>-<two-digit year>, e.g. MC-123-24"
_MC = re.compile(MC_PATTERN)
# What a request could name before MC numbers had a format of their own (a case reference).
_RECORDED_BEFORE = re.compile(r"^[A-Z0-9][A-Z0-9/-]{2,39}$")
RECORDED = "recorded"
"""Validation context key: the message is read back from the record, not received anew."""


def normalise_mc(value: object) -> object:
    """``mc-123-24 `` -> ``MC-123-24``: the Commission writes them in capitals."""
    return value.strip().upper() if isinstance(value, str) else value


def is_mc(value: str) -> bool:
    """Whether ``value`` (normalised) is an MC number."""
    return _MC.fullmatch(str(normalise_mc(value))) is not None


def _mc_number(value: str, info: ValidationInfo) -> str:
    if _MC.fullmatch(value):
        return value
    # A ledger may hold requests that named their MC in a looser form: they stay readable.
    if info.context and info.context.get(RECORDED) and _RECORDED_BEFORE.fullmatch(value):
        return value
    raise ValueError(f"not an IACHR precautionary measure number: write {MC_FORMAT}")


McNumber = Annotated[
    str,
    BeforeValidator(normalise_mc),
    AfterValidator(_mc_number),
    WithJsonSchema({"type": "string", "pattern": MC_PATTERN, "maxLength": 12}),
]
"""An IACHR precautionary measure's number (``MC-123-24``). Its own type, not ``CaseRef``:
every recorded message's ``subject`` is a ``CaseRef``, which must keep reading as it did; and
a message read back from the record (``parse_message(..., recorded=True)``) may keep a number
written in the looser form requests were allowed before."""


class IachrMeasureBody(Body):
    """An IACHR precautionary measure as the Mechanism knows it. No names: the beneficiaries
    are a count, and the measure's own file stays with the Commission and the SRE."""

    measure: McNumber
    granted_on: Day  # when the Commission granted it
    # When the foreign ministry (SRE) notified SEGOB: the 2022 protocol's clocks start here.
    notified_on: Day
    state: StateCode
    beneficiaries: int = Field(ge=1, le=500)
    case_ref: CaseRef | None = None  # the Mechanism's own case for the same people, if any

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if value not in state_codes():
            raise ValueError(f"{value!r} is not an ISO 3166-2:MX state code")
        return value


class IachrMeasureRegistered(Envelope):
    """The Mechanism records an IACHR precautionary measure, or corrects its dates (the latest
    message for an MC number stands). Kept for the record on the Mechanism's own subject."""

    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = frozenset({AgencyKind.FEDERAL})
    type: Literal["mech.tracking.iachr_measure.v1"] = "mech.tracking.iachr_measure.v1"
    data: IachrMeasureBody
