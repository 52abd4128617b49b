"""Read-side queries for federal staff: pending, overdue commitments, a case, the scorecard,
the implementation agenda. Each returns plain rows; adapters.output renders them."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import and_, case, func, not_, union
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from adapters.ledger.store import capacity_from_row
from adapters.ledger.tables import (
    AttendanceRow,
    CommitmentRow,
    DeadLetterRow,
    EscalationRow,
    MessageRow,
    RecipientRow,
    RequestRow,
    ShelterCapacityRow,
)
from bus.domain import subjects
from bus.domain.agenda import AgendaItem, OpenItem, agenda
from bus.domain.capacity import ShelterCapacity
from bus.domain.federal import HUB
from bus.domain.lifecycle import OPEN_COMMITMENT, UNANSWERED, RecipientStatus
from bus.domain.scorecard import (
    CommitmentFacts,
    RecipientFacts,
    StateScore,
    SummonsFacts,
    scorecard,
)
from schemas.messages import parse_message
from schemas.registry import active_registry
from schemas.requests import RelocationBody

# --- pending -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingLine:
    request_id: str
    case_ref: str | None
    kind: str
    urgency: str
    agency: str
    state: str | None
    status: str
    owed: str  # "acknowledgement" or "answer"
    sent_at: datetime
    due_at: datetime
    overdue_hours: float  # negative: still within the deadline


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    agency: str | None = None
    kind: str | None = None
    urgency: str | None = None

    def apply(self, query: SelectOfScalar[RecipientRow]) -> SelectOfScalar[RecipientRow]:
        if self.state:
            query = query.where(RecipientRow.state == self.state.upper())
        if self.agency:
            query = query.where(RecipientRow.agency == self.agency)
        if self.kind:
            query = query.where(RecipientRow.kind == self.kind)
        if self.urgency:
            query = query.where(RecipientRow.urgency == self.urgency)
        return query


def pending(
    session: Session, now: datetime, filters: Filters, limit: int | None = 100, offset: int = 0
) -> list[PendingLine]:
    """Requests still owed an acknowledgement or an answer, most overdue first.

    One index range scan per status on (status, due), each stopping after ``limit`` rows,
    merged here: the cost depends on ``offset + limit``, not on how many requests the record
    holds. (A single ``status IN (...)`` query would read and sort every unanswered row.)
    """
    reach = None if limit is None else offset + limit
    scans = [(status.value, "ack_due_at", "acknowledgement") for status in UNANSWERED]
    scans.append((RecipientStatus.ACKNOWLEDGED.value, "answer_due_at", "answer"))
    rows = []
    for status, due_field, owed in scans:
        query = filters.apply(
            select(RecipientRow)
            .where(RecipientRow.status == status)
            .order_by(col(getattr(RecipientRow, due_field)), col(RecipientRow.id))
            .limit(reach)
        )
        rows += [(getattr(r, due_field), owed, r) for r in session.exec(query)]
    # ties broken by row id, so that consecutive pages neither repeat nor skip a row
    ordered = sorted(rows, key=lambda item: (item[0] is None, item[0] or now, item[2].id or 0))
    top = ordered[offset:reach]
    case_refs = _case_refs(session, {r.request_id for _, _, r in top})
    return [
        PendingLine(
            request_id=r.request_id,
            case_ref=case_refs.get(r.request_id),
            kind=r.kind,
            urgency=r.urgency,
            agency=r.agency,
            state=r.state,
            status=r.status,
            owed=owed,
            sent_at=r.sent_at or now,
            due_at=due or now,
            overdue_hours=round(((now - due).total_seconds() if due else 0.0) / 3600, 2),
        )
        for due, owed, r in top
    ]


def _case_refs(session: Session, request_ids: set[str]) -> dict[str, str | None]:
    if not request_ids:
        return {}
    query = select(RequestRow.request_id, RequestRow.case_ref).where(
        col(RequestRow.request_id).in_(sorted(request_ids))
    )
    return {rid: case for rid, case in session.exec(query)}


# --- commitments -------------------------------------------------------------------------


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


# --- one case's timeline -----------------------------------------------------------------


@dataclass(frozen=True)
class CaseEvent:
    message_id: str
    recorded_at: datetime
    source: str
    to: str
    message: str
    request_id: str
    detail: str


def case_timeline(
    session: Session, case_ref: str, limit: int | None = None, offset: int = 0
) -> list[CaseEvent]:
    """Every message of the case across all agencies, in the order the bus carried them."""
    query = (
        select(MessageRow)
        .where(MessageRow.case_ref == case_ref)
        .order_by(col(MessageRow.stream_seq))
        .limit(limit)
        .offset(offset)
    )
    events = []
    for m in session.exec(query):
        route = subjects.parse(m.nats_subject)
        to = route.agency if route and route.direction is subjects.Direction.TO else HUB
        events.append(
            CaseEvent(
                m.message_id,
                m.recorded_at,
                m.source,
                to,
                m.type.removeprefix("mech.").removesuffix(".v1"),
                m.thread_id,
                _detail(m.body),
            )
        )
    return events


_DETAIL_FIELDS = (
    "official_role",
    "reason_code",
    "action",
    "due",
    "level",
    "to_agency",
    "summary",
    "measures",
    "aggression",
    "question",
    "reason",
    "shortfall",
)


def _detail(body: bytes) -> str:
    """A one-line summary from fields that carry no personal data (never ``personal``)."""
    data = json.loads(body).get("data", {})
    parts = []
    for name in _DETAIL_FIELDS:
        value = data.get(name)
        if value:
            text = ", ".join(value) if isinstance(value, list) else str(value)
            parts.append(f"{name}: {text}")
    return "; ".join(parts)[:160]


# --- scorecard ---------------------------------------------------------------------------


def state_scores(
    session: Session, *, asof: datetime, since: datetime | None = None
) -> list[StateScore]:
    """``bus.domain.scorecard.scorecard`` computed by the database: the same definitions (the tests
    check both give the same figures), aggregated in SQL so it stays fast on a large record."""
    r = RecipientRow
    acked = and_(col(r.acknowledged_at).is_not(None), col(r.acknowledged_at) <= asof)
    recalled = and_(col(r.status) == RecipientStatus.CANCELLED.value, col(r.decided_at) <= asof)
    decided = and_(col(r.status) != RecipientStatus.CANCELLED.value, col(r.decided_at) <= asof)
    in_period = col(r.sent_at) <= asof
    if since is not None:
        in_period = and_(in_period, col(r.sent_at) >= since)

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    received = session.exec(
        select(
            r.state,
            func.count(),
            count(or_(acked, and_(col(r.ack_due_at) <= asof, not_(recalled)))),
            count(
                and_(
                    acked,
                    or_(col(r.ack_due_at).is_(None), col(r.acknowledged_at) <= col(r.ack_due_at)),
                )
            ),
        )
        .where(in_period, col(r.state).is_not(None), r.kind != "board_summons")
        .group_by(r.state)
    ).all()
    # Open overdue looks at every request ever sent, but only three small slices can be owed
    # at ``asof``: those still owed now, and those answered after ``asof``. Each slice is an
    # index range; the full predicate then runs on their union only.
    owed_now = [s.value for s in UNANSWERED] + [RecipientStatus.ACKNOWLEDGED.value]
    candidates = union(
        select(r.id).where(col(r.status).in_(owed_now)),
        select(r.id).where(col(r.acknowledged_at) > asof),
        select(r.id).where(col(r.decided_at) > asof),
    ).subquery()
    overdue = session.exec(
        select(r.state, func.count())
        .where(col(r.id).in_(select(candidates.c.id)))
        .where(col(r.sent_at) <= asof, col(r.state).is_not(None), r.kind != "board_summons")
        .where(not_(recalled))
        .where(
            or_(
                and_(not_(acked), col(r.ack_due_at) < asof),
                and_(acked, not_(decided), col(r.answer_due_at) < asof),
            )
        )
        .group_by(r.state)
    ).all()
    seconds: dict[str, list[float]] = defaultdict(list)
    for state, value in session.exec(
        select(r.state, r.seconds_to_acknowledge).where(
            in_period, acked, col(r.state).is_not(None), r.kind != "board_summons"
        )
    ):
        if value is not None:
            seconds[state or ""].append(value)
    figures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for state, n, due, on_time in received:
        figures[state or ""].update(received=n, due=int(due or 0), on_time=int(on_time or 0))
    for state, n in overdue:
        figures[state or ""]["overdue"] += n
    _commitment_figures(session, asof, since, figures)
    summons = _summons(session)
    for s in summons:
        if s.sent_at <= asof and (since is None or s.sent_at >= since):
            figures[s.state]["summons"] += 1
            figures[s.state]["attended"] += int(bool(s.attended))
    return [
        StateScore(
            state=state,
            requests_received=f["received"],
            acknowledged_on_time=f["on_time"],
            acknowledgements_due=f["due"],
            median_hours_to_acknowledge=(
                round(median(seconds[state]) / 3600, 2) if seconds[state] else None
            ),
            commitments_due=f["c_due"],
            commitments_kept_on_time=f["c_kept"],
            open_overdue=f["overdue"],
            summons=f["summons"],
            summons_attended=f["attended"],
        )
        for state, f in sorted(figures.items())
    ]


def _commitment_figures(
    session: Session, asof: datetime, since: datetime | None, figures: dict[str, dict[str, int]]
) -> None:
    c = CommitmentRow
    came_due = col(c.due) <= asof
    if since is not None:
        came_due = and_(came_due, col(c.due) >= since)
    kept = and_(came_due, col(c.status) == "fulfilled", col(c.ended_at) <= col(c.due))
    open_late = and_(
        col(c.due) < asof,
        col(c.made_at) <= asof,
        or_(col(c.ended_at).is_(None), col(c.ended_at) > asof),
    )
    registry = active_registry()
    rows = session.exec(
        select(
            c.agency,
            func.sum(case((came_due, 1), else_=0)),
            func.sum(case((kept, 1), else_=0)),
            func.sum(case((open_late, 1), else_=0)),
        ).group_by(c.agency)
    )
    for agency_id, due, kept_n, late in rows:
        agency = registry.get(agency_id)
        if agency is None or agency.state is None:
            continue
        f = figures[agency.state]
        f["c_due"] += int(due or 0)
        f["c_kept"] += int(kept_n or 0)
        f["overdue"] += int(late or 0)


def state_scores_from_facts(
    session: Session, *, asof: datetime, since: datetime | None = None
) -> list[StateScore]:
    """The reference computation: load the facts, apply ``bus.domain.scorecard.scorecard``."""
    registry = active_registry()
    recipients = [
        RecipientFacts(
            state=r.state or "",
            agency=r.agency,
            sent_at=r.sent_at or asof,
            ack_due=r.ack_due_at,
            acknowledged_at=r.acknowledged_at,
            answer_due=r.answer_due_at,
            decided_at=r.decided_at if r.status != RecipientStatus.CANCELLED.value else None,
            recalled_at=r.decided_at if r.status == RecipientStatus.CANCELLED.value else None,
        )
        for r in session.exec(select(RecipientRow).where(col(RecipientRow.state).is_not(None)))
        if r.kind != "board_summons"
    ]
    commitments_facts = []
    for c in session.exec(select(CommitmentRow)):
        agency = registry.get(c.agency)
        if agency is None or agency.state is None:
            continue
        commitments_facts.append(
            CommitmentFacts(
                state=agency.state,
                agency=c.agency,
                due=c.due,
                made_at=c.made_at,
                fulfilled_at=c.ended_at if c.status == "fulfilled" else None,
                ended_at=c.ended_at,
            )
        )
    return scorecard(recipients, commitments_facts, _summons(session), asof=asof, since=since)


def _summons(session: Session) -> list[SummonsFacts]:
    attendance = {(a.session_id, a.agency): a.attended for a in session.exec(select(AttendanceRow))}
    query = (
        select(RecipientRow, RequestRow.board_session_id)
        .join(RequestRow, col(RequestRow.request_id) == col(RecipientRow.request_id))
        .where(RecipientRow.kind == "board_summons")
    )
    return [
        SummonsFacts(
            r.state or "",
            r.agency,
            r.sent_at or r.acknowledged_at or datetime.min,
            attendance.get((session_id or "", r.agency)),
        )
        for r, session_id in session.exec(query)
        if r.state
    ]


# --- the implementation agenda -----------------------------------------------------------


def case_agenda(session: Session, case_ref: str, now: datetime) -> list[AgendaItem]:
    mcs = {
        mc
        for mc in session.exec(
            select(RequestRow.iachr_precautionary_measure).where(RequestRow.case_ref == case_ref)
        )
        if mc
    }
    related = [case_ref, *sorted(mcs)]
    requests = {
        r.request_id: r
        for r in session.exec(
            select(RequestRow)
            .where(
                or_(
                    col(RequestRow.case_ref).in_(related),
                    col(RequestRow.iachr_precautionary_measure).in_(sorted(mcs) or [""]),
                )
            )
            .where(col(RequestRow.closed_at).is_(None))
        )
    }
    items = []
    ids = sorted(requests)
    for c in session.exec(select(CommitmentRow).where(col(CommitmentRow.request_id).in_(ids))):
        if c.status in {s.value for s in OPEN_COMMITMENT}:
            req = requests[c.request_id]
            items.append(
                OpenItem(
                    c.request_id,
                    req.case_ref,
                    req.iachr_precautionary_measure,
                    c.agency,
                    req.type.split(".")[2],
                    c.action,
                    c.due,
                    c.commitment_id,
                    c.status,
                )
            )
    owing = [s.value for s in UNANSWERED] + [RecipientStatus.ACKNOWLEDGED.value]
    for r in session.exec(
        select(RecipientRow)
        .where(col(RecipientRow.request_id).in_(ids))
        .where(col(RecipientRow.status).in_(owing))
    ):
        req = requests[r.request_id]
        due = r.ack_due_at if r.status != RecipientStatus.ACKNOWLEDGED.value else r.answer_due_at
        what = "acknowledge the request" if r.status in UNANSWERED else "answer the request"
        items.append(
            OpenItem(
                r.request_id,
                req.case_ref,
                req.iachr_precautionary_measure,
                r.agency,
                r.kind,
                what,
                due,
                None,
                r.status,
            )
        )
    return agenda(case_ref, items, now)


def board_agenda(
    session: Session, session_id: str | None, limit: int | None = None, offset: int = 0
) -> list[EscalationRow]:
    query = select(EscalationRow).where(EscalationRow.level == "board_agenda")
    if session_id is not None:
        query = query.where(EscalationRow.board_session_id == session_id)
    query = query.order_by(col(EscalationRow.fired_at), col(EscalationRow.id))
    return list(session.exec(query.limit(limit).offset(offset)))


# --- shelters and placements -------------------------------------------------------------


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


def request_message(request_id: str, *columns: Any) -> Any:
    """The message that made request ``request_id`` (ids are scoped by sender: an agency may
    have used the same id for a message of its own)."""
    return (
        select(*columns)
        .join(RequestRow, col(RequestRow.request_id) == col(MessageRow.message_id))
        .where(MessageRow.message_id == request_id, MessageRow.source == RequestRow.source)
    )


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


# --- dead letters --------------------------------------------------------------------------


def dead_letters(
    session: Session,
    *,
    reason: str | None = None,
    sender: str | None = None,
    limit: int | None = 200,
    offset: int = 0,
) -> list[DeadLetterRow]:
    """Bad input kept with its reason, newest first (bodies stay sealed)."""
    query = select(DeadLetterRow).order_by(col(DeadLetterRow.id).desc())
    query = query.limit(limit).offset(offset)
    if reason:
        query = query.where(DeadLetterRow.reason == reason)
    if sender:
        query = query.where(DeadLetterRow.sender == sender)
    return list(session.exec(query))
