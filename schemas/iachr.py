"""IACHR precautionary measures: the MC number, and the message that records a measure's dates."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from schemas.envelope import Body, CaseRef, Day, Envelope, Family, StateCode
from schemas.registry import AgencyKind, state_codes

MC_PATTERN = r"^MC-\d{1,4}-\d{2}$"
MC_FORMAT = "MC-<number of 1 to 4 digits>-<two-digit year>, e.g. MC-123-24"
_MC = re.compile(MC_PATTERN)


def normalise_mc(value: object) -> object:
    """``mc-123-24 `` -> ``MC-123-24``: the Commission writes them in capitals."""
    return value.strip().upper() if isinstance(value, str) else value


def is_mc(value: str) -> bool:
    """Whether ``value`` (normalised) is an MC number."""
    return _MC.fullmatch(str(normalise_mc(value))) is not None


McNumber = Annotated[
    str, BeforeValidator(normalise_mc), StringConstraints(pattern=MC_PATTERN, max_length=12)
]
"""An IACHR precautionary measure's number (``MC-123-24``). Its own type, not ``CaseRef``:
every recorded message's ``subject`` is a ``CaseRef``, which must keep reading as it did."""


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
