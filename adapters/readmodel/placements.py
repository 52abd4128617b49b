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
from schemas.requests import RelocationBody


def shelters(session: Session, limit: int | None = None, offset: int = 0) -> list[ShelterCapacity]:
    query = select(ShelterCapacityRow).order_by(col(ShelterCapacityRow.shelter))
    rows = session.exec(query.limit(limit).offset(offset))
    return [capacity_from_row(row) for row in rows]


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
