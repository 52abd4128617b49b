"""Shelter capacity: what a shelter has said it can offer, when it goes stale, and which
shelters can take a relocation. Pure."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from schemas.capacity import CapacityBody
from schemas.requests import RelocationBody

DEFAULT_MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class ShelterCapacity:
    shelter: str
    region: str
    total_spaces: int
    free_spaces: int  # spaces now, less placements confirmed since the shelter's last report
    spaces_24h: int
    spaces_72h: int
    accepts_families: bool
    accepts_children: bool
    accessible: bool
    security_level: str
    max_stay_days: int
    services: tuple[str, ...]
    reported_at: datetime

    @classmethod
    def reported(cls, shelter: str, body: CapacityBody, at: datetime) -> ShelterCapacity:
        return cls(
            shelter=shelter,
            region=body.region,
            total_spaces=body.total_spaces,
            free_spaces=body.spaces_now,
            spaces_24h=body.spaces_24h,
            spaces_72h=body.spaces_72h,
            accepts_families=body.accepts_families,
            accepts_children=body.accepts_children,
            accessible=body.accessible,
            security_level=body.security_level.value,
            max_stay_days=body.max_stay_days,
            services=body.services,
            reported_at=at,
        )

    def stale(self, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> bool:
        return now - self.reported_at > max_age

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["reported_at"] = self.reported_at.isoformat()
        doc["services"] = list(self.services)
        return doc


def mismatch(
    capacity: ShelterCapacity,
    need: RelocationBody,
    now: datetime,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> str | None:
    """Why a shelter cannot take this relocation, or None when it can."""
    if capacity.stale(now, max_age):
        return f"capacity report is older than {max_age}"
    days_ahead = (need.earliest - now.date()).days if isinstance(need.earliest, date) else 0
    free = capacity.free_spaces
    if days_ahead >= 3:
        free = max(free, capacity.spaces_72h)
    elif days_ahead >= 1:
        free = max(free, capacity.spaces_24h)
    if free < need.people:
        return f"{free} free spaces for {need.people} people"
    if need.children and not capacity.accepts_children:
        return "does not take children"
    if need.people > 1 and not capacity.accepts_families:
        return "does not take families or groups"
    if need.accessibility_required and not capacity.accessible:
        return "not accessible"
    if need.expected_days > capacity.max_stay_days:
        return f"stays of at most {capacity.max_stay_days} days"
    if need.preferred_regions and capacity.region not in need.preferred_regions:
        return f"region {capacity.region} not among those preferred"
    lacking = missing_services(capacity, need)
    if lacking:
        return f"does not offer {', '.join(lacking)}"
    return None


def missing_services(capacity: ShelterCapacity, need: RelocationBody) -> list[str]:
    """The needs the shelter's last report does not list among its services (a shelter that
    offers only food is not asked for psychological care). Both are free text typed by
    people, so they are compared without case, accents or extra spaces."""
    offered = {_plain(service) for service in capacity.services}
    return [n for n in need.needs if _plain(n) not in offered]


def _plain(text: str) -> str:
    letters = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in letters if not unicodedata.combining(c)).split())


def matching(
    capacities: list[ShelterCapacity],
    need: RelocationBody,
    now: datetime,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> list[ShelterCapacity]:
    """The shelters that can take the relocation, most free spaces first."""
    fit = [c for c in capacities if mismatch(c, need, now, max_age) is None]
    return sorted(fit, key=lambda c: (-c.free_spaces, c.shelter))
