"""The Governing Board's agenda as the secretariat reads it: each item placed by the ladder,
where it stands now (on its session, carried over from a missed one, or dropped once met),
whom it may invite and what is owed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from adapters.ledger.consents import consents_for
from adapters.ledger.obligations import owed
from adapters.ledger.tables import (
    BoardSessionRow,
    CommitmentRow,
    EscalationRow,
    FederalObligationRow,
    RecipientRow,
    RequestRow,
)
from bus.domain.board import BoardSession, Placement, consented, placement_now
from schemas.registry import active_registry, state_name


@dataclass(frozen=True)
class AgendaLine:
    session_id: str | None  # None: no session is scheduled that it is in time for
    case_ref: str | None
    state: str | None  # the state's name
    institution: str  # the agency that owes, by its registry name
    invited: str | None  # its head, by title ("Titular de la ..."), only with consent
    consent: bool
    owed: str  # "acknowledgement", "answer", or the committed action
    due_at: datetime
    overdue_hours: float | None  # None once the obligation is met
    carried_from: str | None  # the session it was on and that passed with it unresolved
    placed_at: datetime
    request_id: str
    agency: str
    clock: str


def agenda(
    session: Session,
    now: datetime,
    cutoff: timedelta,
    session_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AgendaLine]:
    """The agenda of ``session_id`` (None: every item still on an agenda), oldest first:
    the items placed on it, and those carried over to it while it is the next session.

    ``cutoff``: how long before a session its material is due (the policy's ``[board]``);
    an item placed with no session reaches the first one it was in time for.
    """
    rungs = list(
        session.exec(
            select(EscalationRow)
            .where(EscalationRow.level == "board_agenda")
            .order_by(col(EscalationRow.fired_at), col(EscalationRow.id))
        )
    )
    if not rungs:
        return []
    sessions = [
        BoardSession(s.session_id, s.scheduled_at) for s in session.exec(select(BoardSessionRow))
    ]
    request_ids = sorted({e.request_id for e in rungs})
    cases = dict(
        session.exec(
            select(RequestRow.request_id, RequestRow.case_ref).where(
                col(RequestRow.request_id).in_(request_ids)
            )
        ).all()
    )
    # the Mechanism's own obligations climb the same ladder under their own ids
    federal = {
        o.obligation_id: o
        for o in session.exec(
            select(FederalObligationRow).where(
                col(FederalObligationRow.obligation_id).in_(request_ids)
            )
        )
    }
    cases.update({key: o.case_ref for key, o in federal.items()})
    answers = {
        (r.request_id, r.agency): r.status
        for r in session.exec(
            select(RecipientRow).where(col(RecipientRow.request_id).in_(request_ids))
        )
    }
    commitments = {
        (c.request_id, c.commitment_id): c
        for c in session.exec(
            select(CommitmentRow).where(col(CommitmentRow.request_id).in_(request_ids))
        )
    }
    consents = consents_for(session, [c for c in cases.values() if c is not None])
    registry = active_registry()
    lines = []
    for e in rungs:
        commitment = commitments.get((e.request_id, e.commitment_key))
        if e.commitment_key:
            status = commitment.status if commitment else None
        else:
            status = answers.get((e.request_id, e.agency))
        if e.request_id in federal:
            still = federal[e.request_id].met_at is None
        else:
            still = owed(e.clock, bool(e.commitment_key), status)
        if session_id is not None and e.board_session_id == session_id:
            where: Placement | None = Placement(session_id)  # its own items, even once past
        else:
            where = placement_now(e.board_session_id, e.fired_at, still, sessions, cutoff, now)
        if where is None or (session_id is not None and where.session_id != session_id):
            continue
        case = cases.get(e.request_id)
        agency = registry.get(e.agency)
        allowed = case is not None and consented(consents.get(case), e.agency)
        lines.append(
            AgendaLine(
                session_id=where.session_id,
                case_ref=case,
                state=state_name(agency.state) if agency and agency.state else None,
                institution=agency.name if agency else e.agency,
                invited=(agency.addressee if agency else e.agency) if allowed else None,
                consent=allowed,
                owed=commitment.action if commitment else e.clock,
                due_at=e.due_at,
                overdue_hours=round((now - e.due_at).total_seconds() / 3600, 2) if still else None,
                carried_from=where.carried_from,
                placed_at=e.fired_at,
                request_id=e.request_id,
                agency=e.agency,
                clock=e.clock,
            )
        )
    end = None if limit is None else offset + limit
    return lines[offset:end]


def session_ids(session: Session) -> list[str]:
    """Every session the Board has scheduled, earliest first."""
    query = select(BoardSessionRow.session_id).order_by(col(BoardSessionRow.scheduled_at))
    return list(session.exec(query).all())


def scheduled_at(session: Session, session_id: str | None) -> datetime | None:
    """When the session ``session_id`` is scheduled, if it is."""
    if session_id is None:
        return None
    row = session.get(BoardSessionRow, session_id)
    return row.scheduled_at if row else None
