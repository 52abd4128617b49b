"""Shelters' capacity and each relocation's placements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.rows import capacity_from_row
from adapters.ledger.tables import MessageRow, RecipientRow, RequestRow, ShelterCapacityRow
from adapters.readmodel.requests import request_message
from bus.domain.capacity import ShelterCapacity
from schemas.messages import parse_message
from schemas.registry import AgencyKind, active_registry
from schemas.requests import RelocationBody


def shelters(session: Session, limit: int | None = None, offset: int = 0) -> list[ShelterCapacity]:
    query = select(ShelterCapacityRow).order_by(col(ShelterCapacityRow.shelter))
    rows = session.exec(query.limit(limit).offset(offset))
    return [capacity_from_row(row) for row in rows]


@dataclass(frozen=True)
class Unreported:
    """A shelter of the registry that has never reported its capacity: listed in the views
    as such (``report``), never asked for a placement (``shelters`` leaves it out)."""

    shelter: str
    region: str | None
    free_spaces: int | None = None
    total_spaces: int | None = None
    spaces_24h: int | None = None
    spaces_72h: int | None = None
    accepts_families: bool | None = None
    accepts_children: bool | None = None
    accessible: bool | None = None
    security_level: str | None = None
    max_stay_days: int | None = None
    reported_at: datetime | None = None

    def stale(self, now: datetime, max_age: object = None) -> bool:
        return False  # nothing to be stale: the view says "no report" instead


def shelter_roster(
    session: Session, limit: int | None = None, offset: int = 0
) -> list[ShelterCapacity | Unreported]:
    """Every shelter of the registry, with its last capacity report or ``Unreported``, and any
    shelter that reported while no longer registered; by shelter id."""
    reported: dict[str, ShelterCapacity | Unreported] = {c.shelter: c for c in shelters(session)}
    for agency in active_registry():
        if agency.kind is AgencyKind.SHELTER and agency.id not in reported:
            reported[agency.id] = Unreported(agency.id, agency.region)
    roster = [reported[shelter] for shelter in sorted(reported)]
    return roster[offset : None if limit is None else offset + limit]


@dataclass(frozen=True)
class PlacementLine:
    request_id: str
    case_ref: str | None
    people: int
    origin_state: str
    shelter: str
    status: str
    sent_at: datetime
    answered_at: datetime | None


def relocation_body(session: Session, request_id: str) -> RelocationBody | None:
    body = session.exec(request_message(request_id, MessageRow.body)).first()
    if body is None:
        return None
    message = parse_message(body)
    return message.data if isinstance(message.data, RelocationBody) else None


def placements(
    session: Session, limit: int | None = 200, offset: int = 0, request_id: str | None = None
) -> list[PlacementLine]:
    """Each relocation's shelters, newest first; ``request_id``: that relocation's alone,
    however old."""
    query = (
        select(RequestRow, RecipientRow)
        .join(RecipientRow, col(RecipientRow.request_id) == col(RequestRow.request_id))
        .where(RequestRow.type == "mech.request.relocation.v1")
    )
    if request_id is not None:
        query = query.where(RequestRow.request_id == request_id)
    query = (
        query.order_by(
            col(RequestRow.sent_at).desc(), col(RequestRow.request_id), col(RecipientRow.position)
        )
        .limit(limit)
        .offset(offset)
    )
    lines = []
    bodies: dict[str, RelocationBody | None] = {}
    for req, rec in session.exec(query):
        if req.request_id not in bodies:
            bodies[req.request_id] = relocation_body(session, req.request_id)
        body = bodies[req.request_id]
        lines.append(
            PlacementLine(
                req.request_id,
                req.case_ref,
                body.people if body else 0,
                body.origin_state if body else "",
                rec.agency,
                rec.status,
                req.sent_at,
                rec.decided_at,
            )
        )
    return lines
