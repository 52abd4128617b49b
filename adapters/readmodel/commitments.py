"""The commitments agencies made and have not kept yet, most due first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.tables import CommitmentRow, RequestRow
from bus.domain.lifecycle import OPEN_COMMITMENT
from schemas.registry import active_registry


@dataclass(frozen=True)
class CommitmentLine:
    request_id: str
    case_ref: str | None
    agency: str
    commitment_id: str
    action: str
    due: datetime
    status: str
    overdue_hours: float


def commitments(
    session: Session,
    now: datetime,
    *,
    overdue_only: bool,
    agency: str | None = None,
    state: str | None = None,
    limit: int | None = 200,
    offset: int = 0,
) -> list[CommitmentLine]:
    query = (
        select(CommitmentRow, RequestRow.case_ref)
        .join(RequestRow, col(RequestRow.request_id) == col(CommitmentRow.request_id))
        .where(col(CommitmentRow.status).in_([s.value for s in OPEN_COMMITMENT]))
        .order_by(col(CommitmentRow.due), col(CommitmentRow.id))
        .limit(limit)
        .offset(offset)
    )
    if overdue_only:
        query = query.where(col(CommitmentRow.due) < now)
    if agency:
        query = query.where(CommitmentRow.agency == agency)
    if state:
        agencies = [a.id for a in active_registry().of_state(state.upper())]
        query = query.where(col(CommitmentRow.agency).in_(agencies))
    return [
        CommitmentLine(
            c.request_id,
            case_ref,
            c.agency,
            c.commitment_id,
            c.action,
            c.due,
            c.status,
            round((now - c.due).total_seconds() / 3600, 2),
        )
        for c, case_ref in session.exec(query)
    ]
