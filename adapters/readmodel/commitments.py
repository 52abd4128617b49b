"""The commitments agencies made and have not kept yet, most due first; those promised later
than the law allows are flagged, and counted overdue from the legal limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.tables import CommitmentRow, RequestRow
from bus.domain.legal_limit import BEYOND_THE_LEGAL_LIMIT, beyond, chased_at
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
    overdue_hours: float  # past the earlier of ``due`` and ``legal_limit``
    legal_limit: datetime | None = None

    @property
    def flag(self) -> str | None:
        """ "beyond the legal limit" when the agency promised later than the law allows."""
        return BEYOND_THE_LEGAL_LIMIT if beyond(self.due, self.legal_limit) else None

    @property
    def chased(self) -> datetime:
        """When the ladder holds it due (bus.domain.legal_limit)."""
        return chased_at(self.due, self.legal_limit)


def commitments(
    session: Session,
    now: datetime,
    *,
    overdue_only: bool,
    beyond_limit_too: bool = False,
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
        late = (col(CommitmentRow.due) < now) | (col(CommitmentRow.legal_limit) < now)
        if beyond_limit_too:  # promised later than the law allows: a finding before it is due
            late = late | (col(CommitmentRow.legal_limit) < col(CommitmentRow.due))
        query = query.where(late)
    if agency:
        query = query.where(CommitmentRow.agency == agency)
    if state:
        agencies = [a.id for a in active_registry().of_state(state.upper())]
        query = query.where(col(CommitmentRow.agency).in_(agencies))
    return [
        _line(c, case_ref, round((now - chased_at(c.due, c.legal_limit)).total_seconds() / 3600, 2))
        for c, case_ref in session.exec(query)
    ]


def made_beyond_the_limit(session: Session, start: datetime, end: datetime) -> list[CommitmentLine]:
    """The commitments made in [start, end) with a due date later than the law allows, open
    or not (the monthly report lists them: the promise itself is the finding)."""
    query = (
        select(CommitmentRow, RequestRow.case_ref)
        .join(RequestRow, col(RequestRow.request_id) == col(CommitmentRow.request_id))
        .where(col(CommitmentRow.made_at) >= start, col(CommitmentRow.made_at) < end)
        .where(col(CommitmentRow.legal_limit) < col(CommitmentRow.due))
        .order_by(col(CommitmentRow.made_at), col(CommitmentRow.id))
    )
    return [_line(c, case_ref, 0.0) for c, case_ref in session.exec(query)]


def _line(c: CommitmentRow, case_ref: str | None, overdue_hours: float) -> CommitmentLine:
    return CommitmentLine(
        c.request_id,
        case_ref,
        c.agency,
        c.commitment_id,
        c.action,
        c.due,
        c.status,
        overdue_hours,
        c.legal_limit,
    )
