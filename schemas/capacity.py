"""Capacity family: shelters say how much room they have and offer placements."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.common import PersonalDetails
from schemas.envelope import AgencyId, Body, Day, Envelope, Family, LongText, ShortText
from schemas.registry import FEDERAL_KINDS, AgencyKind

SHELTERS = frozenset({AgencyKind.SHELTER})


class SecurityLevel(StrEnum):
    BASIC = "basic"
    RESTRICTED_ACCESS = "restricted_access"
    HIGH = "high"


class CapacityBody(Body):
    total_spaces: int = Field(ge=1, le=500)
    spaces_now: int = Field(ge=0, le=500)
    spaces_24h: int = Field(ge=0, le=500)
    spaces_72h: int = Field(ge=0, le=500)
    region: ShortText
    accepts_families: bool = True
    accepts_children: bool = True
    accessible: bool = False
    security_level: SecurityLevel = SecurityLevel.BASIC
    max_stay_days: int = Field(ge=1, le=730)
    services: tuple[ShortText, ...] = ()

    @model_validator(mode="after")
    def _possible(self) -> CapacityBody:
        for name in ("spaces_now", "spaces_24h", "spaces_72h"):
            if getattr(self, name) > self.total_spaces:
                raise ValueError(f"{name} cannot exceed total_spaces ({self.total_spaces})")
        return self


class PlacementOfferBody(Body):
    spaces: int = Field(ge=1, le=50)
    available_from: Day
    note: LongText | None = None


class PlacementConfirmedBody(Body):
    shelter: AgencyId
    people: int = Field(ge=1, le=50)
    arrival_on: Day
    personal: tuple[PersonalDetails, ...] = ()


class OfferReleasedBody(Body):
    reason: LongText


class PlacementArrivedBody(Body):
    people: int = Field(ge=1, le=50)
    arrived_on: Day


class PlacementEndedBody(Body):
    people: int = Field(ge=1, le=50)
    ended_on: Day
    reason: ShortText


class _FromShelter(Envelope):
    family: ClassVar[Family] = Family.CAPACITY
    senders: ClassVar[frozenset[AgencyKind]] = SHELTERS


class _FromMechanism(Envelope):
    family: ClassVar[Family] = Family.CAPACITY
    senders: ClassVar[frozenset[AgencyKind]] = FEDERAL_KINDS

    @model_validator(mode="after")
    def _about_relocation(self) -> _FromMechanism:
        if self.correlation_id is None or not self.recipients:
            raise ValueError(f"{self.type} needs correlationid (the relocation) and recipients")
        return self


class CapacityUpdate(_FromShelter):
    type: Literal["mech.capacity.capacity_update.v1"] = "mech.capacity.capacity_update.v1"
    data: CapacityBody


class PlacementOffer(_FromShelter):
    type: Literal["mech.capacity.placement_offer.v1"] = "mech.capacity.placement_offer.v1"
    data: PlacementOfferBody

    @model_validator(mode="after")
    def _about_relocation(self) -> PlacementOffer:
        if self.correlation_id is None:
            raise ValueError("a placement offer needs correlationid: the relocation request")
        return self


class PlacementConfirmed(_FromMechanism):
    type: Literal["mech.capacity.placement_confirmed.v1"] = "mech.capacity.placement_confirmed.v1"
    data: PlacementConfirmedBody


class OfferReleased(_FromMechanism):
    type: Literal["mech.capacity.offer_released.v1"] = "mech.capacity.offer_released.v1"
    data: OfferReleasedBody


class PlacementArrived(_FromShelter):
    """The people placed have arrived at the shelter."""

    type: Literal["mech.capacity.placement_arrived.v1"] = "mech.capacity.placement_arrived.v1"
    data: PlacementArrivedBody

    @model_validator(mode="after")
    def _about_relocation(self) -> PlacementArrived:
        if self.correlation_id is None:
            raise ValueError("an arrival needs correlationid: the relocation request")
        return self


class PlacementEnded(_FromShelter):
    """The people placed have left: their spaces are free again."""

    type: Literal["mech.capacity.placement_ended.v1"] = "mech.capacity.placement_ended.v1"
    data: PlacementEndedBody

    @model_validator(mode="after")
    def _about_relocation(self) -> PlacementEnded:
        if self.correlation_id is None:
            raise ValueError("a departure needs correlationid: the relocation request")
        return self


PLACEMENT_MESSAGES = (
    PlacementOffer,
    PlacementConfirmed,
    OfferReleased,
    PlacementArrived,
    PlacementEnded,
)
