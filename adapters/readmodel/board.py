"""The Governing Board's agenda as the secretariat reads it: each item placed by the ladder,
where it stands now (on its session, carried over from a missed one, or dropped once met),
whom it may invite and what is owed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, union
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
from bus.domain.board import BoardSession, Placement, consented, placed_on, placement_now
from bus.domain.lifecycle import RecipientStatus
from bus.domain.request_state import OPEN_COMMITMENT, UNANSWERED
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
    sessions = [
        BoardSession(s.session_id, s.scheduled_at) for s in session.exec(select(BoardSessionRow))
    ]
    rungs = _candidates(session, sessions, now, cutoff, session_id)
    if not rungs:
        return []
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
    r = RecipientRow
    answers = {  # the three columns, not the rows: a recipient row is wide
        (request_id, agency): status
        for request_id, agency, status in session.exec(
            select(r.request_id, r.agency, r.status).where(col(r.request_id).in_(request_ids))
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
    lines: list[AgendaLine] = []
    end = None if limit is None else offset + limit
    for e in rungs:
        if end is not None and len(lines) >= end:
            break  # the page is full: the rest would be cut off below
        commitment = commitments.get((e.request_id, e.commitment_key))
        if e.commitment_key:
            status = commitment.status if commitment else None
        else:
            status = answers.get((e.request_id, e.agency))
        if e.request_id in federal:
            still = federal[e.request_id].met_at is None
        else:
            still = owed(e.clock, bool(e.commitment_key), status)
        own = placed_on(e.board_session_id, e.fired_at, sessions, cutoff)
        if session_id is not None and own == session_id:
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
    return lines[offset:end]


def _candidates(
    session: Session,
    sessions: list[BoardSession],
    now: datetime,
    cutoff: timedelta,
    session_id: str | None,
) -> list[EscalationRow]:
    """The Board rungs that may be on an agenda at ``now``, oldest first, each read through an
    index so that the record's past does not weigh: those on a session to come (or none yet),
    those still owed (carried over), and with ``session_id`` that session's own. The rest
    passed with their session, met, and ``placement_now`` would drop them."""
    e = EscalationRow
    past = [s.scheduled_at for s in sessions if s.scheduled_at < now]
    named = [s.session_id for s in sessions if s.scheduled_at >= now]
    named += sorted(_named_sessions(session) - {s.session_id for s in sessions})  # stay put
    unnamed = col(e.board_session_id).is_(None)
    wheres: list[Any] = [
        col(e.board_session_id).in_(named),
        # none named: on a session to come unless a past one's cut-off was after it (by time
        # alone, through its index: the unnamed ones are most of the record)
        col(e.fired_at) > max(past) - cutoff if past else unnamed,
        col(e.request_id).in_(_still_owed()),
    ]
    own = next((s for s in sessions if s.session_id == session_id), None)
    if session_id is not None:
        wheres.append(col(e.board_session_id) == session_id)
    if own is not None:
        earlier = [s.scheduled_at for s in sessions if s.scheduled_at < own.scheduled_at]
        ready = col(e.fired_at) <= own.scheduled_at - cutoff
        if earlier:
            ready = and_(ready, col(e.fired_at) > max(earlier) - cutoff)
        wheres.append(ready if earlier else and_(unnamed, ready))
    found: dict[int | None, EscalationRow] = {}
    for where in wheres:  # one indexed query each: an OR of them is a full scan to SQLite
        for row in session.exec(select(e).where(e.level == "board_agenda", where)):
            found[row.id] = row
    return sorted(found.values(), key=lambda r: (r.fired_at, r.id or 0))


def _named_sessions(session: Session) -> set[str]:
    """Every session id a rung names, each found by one index seek (a dozen a year), not by
    reading the rungs."""
    e, after = EscalationRow, ""
    found: set[str] = set()
    while True:
        following = session.exec(
            select(func.min(e.board_session_id)).where(col(e.board_session_id) > after)
        ).one()
        if following is None:
            return found
        found.add(following)
        after = following


def _still_owed() -> Any:
    """The ids of whatever may still be owed: an unanswered or acknowledged recipient, an open
    commitment, an unmet federal obligation (``owed`` decides each exactly after)."""
    waiting = [s.value for s in UNANSWERED | {RecipientStatus.ACKNOWLEDGED}]
    return union(
        select(RecipientRow.request_id).where(col(RecipientRow.status).in_(waiting)),
        select(CommitmentRow.request_id).where(
            col(CommitmentRow.status).in_([s.value for s in OPEN_COMMITMENT])
        ),
        select(FederalObligationRow.obligation_id).where(
            col(FederalObligationRow.met_at).is_(None)
        ),
    )


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
