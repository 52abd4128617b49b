"""The joint-responsibility scorecard by state, computed by the database (and the reference
computation from the facts, which the tests compare it with)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import and_, case, func, not_, union
from sqlmodel import Session, col, or_, select

from adapters.ledger.tables import AttendanceRow, CommitmentRow, RecipientRow, RequestRow
from bus.domain.lifecycle import UNANSWERED, RecipientStatus
from bus.domain.scorecard import (
    CommitmentFacts,
    Group,
    RecipientFacts,
    Section,
    StateScore,
    SummonsFacts,
    order,
    scorecard,
    section_of,
)
from schemas.registry import AgencyRegistry, active_registry


def _group(registry: AgencyRegistry, agency: str) -> Group:
    """The scorecard row an agency's figures go to (its state as the registry says)."""
    section = section_of(agency, registry)
    return (section, _state(registry, agency), None if section is Section.STATE else agency)


def _state(registry: AgencyRegistry, agency: str) -> str:
    record = registry.get(agency)
    return record.state or "" if record is not None else ""


def state_scores(
    session: Session, *, asof: datetime, since: datetime | None = None
) -> list[StateScore]:
    """``bus.domain.scorecard.scorecard`` computed by the database: the same definitions (the tests
    check both give the same figures), aggregated in SQL so it stays fast on a large record,
    by state and agency, then gathered into the scorecard's rows (``Section``)."""
    registry = active_registry()
    r = RecipientRow
    acked = and_(col(r.acknowledged_at).is_not(None), col(r.acknowledged_at) <= asof)
    # NOT NULL said outright: "not decided" must be true, not unknown, for an open answer
    answered = and_(col(r.decided_at).is_not(None), col(r.decided_at) <= asof)
    recalled = and_(col(r.status) == RecipientStatus.CANCELLED.value, answered)
    decided = and_(col(r.status) != RecipientStatus.CANCELLED.value, answered)
    in_period = col(r.sent_at) <= asof
    if since is not None:
        in_period = and_(in_period, col(r.sent_at) >= since)

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    received = session.exec(
        select(
            r.agency,
            func.count(),
            count(or_(acked, and_(col(r.ack_due_at) <= asof, not_(recalled)))),
            count(
                and_(
                    acked,
                    or_(col(r.ack_due_at).is_(None), col(r.acknowledged_at) <= col(r.ack_due_at)),
                )
            ),
        )
        .where(in_period, r.kind != "board_summons")
        .group_by(r.agency)
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
        select(r.agency, func.count())
        .where(col(r.id).in_(select(candidates.c.id)))
        .where(col(r.sent_at) <= asof, r.kind != "board_summons")
        .where(not_(recalled))
        .where(
            or_(
                and_(not_(acked), col(r.ack_due_at) < asof),
                and_(acked, not_(decided), col(r.answer_due_at) < asof),
            )
        )
        .group_by(r.agency)
    ).all()
    seconds: dict[Group, list[float]] = defaultdict(list)
    for agency, value in session.exec(
        select(r.agency, r.seconds_to_acknowledge).where(
            in_period, acked, r.kind != "board_summons"
        )
    ):
        if value is not None:
            seconds[_group(registry, agency)].append(value)
    figures: dict[Group, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for agency, n, due, on_time in received:
        f = figures[_group(registry, agency)]
        f["received"] += n
        f["due"] += int(due or 0)
        f["on_time"] += int(on_time or 0)
    for agency, n in overdue:
        figures[_group(registry, agency)]["overdue"] += n
    _commitment_figures(session, asof, since, figures, registry)
    for s in _summons(session):
        if s.sent_at <= asof and (since is None or s.sent_at >= since):
            f = figures[_group(registry, s.agency)]
            f["summons"] += 1
            f["attended"] += int(bool(s.attended))
    return [
        StateScore(
            state=key[1],
            requests_received=f["received"],
            acknowledged_on_time=f["on_time"],
            acknowledgements_due=f["due"],
            median_hours_to_acknowledge=(
                round(median(seconds[key]) / 3600, 2) if seconds[key] else None
            ),
            commitments_due=f["c_due"],
            commitments_kept_on_time=f["c_kept"],
            open_overdue=f["overdue"],
            summons=f["summons"],
            summons_attended=f["attended"],
            section=key[0],
            agency=key[2],
        )
        for key, f in sorted(figures.items(), key=lambda item: order(item[0]))
    ]


def _commitment_figures(
    session: Session,
    asof: datetime,
    since: datetime | None,
    figures: dict[Group, dict[str, int]],
    registry: AgencyRegistry,
) -> None:
    c = CommitmentRow
    # bus.domain.scorecard.settled_at: the day it ended if that was by its due date
    ended_early = and_(col(c.ended_at).is_not(None), col(c.ended_at) <= col(c.due))
    settled_at = case((ended_early, c.ended_at), else_=c.due)
    settled = settled_at <= asof
    if since is not None:
        settled = and_(settled, settled_at >= since)
    kept = and_(settled, col(c.status) == "fulfilled", col(c.ended_at) <= col(c.due))
    open_late = and_(
        col(c.due) < asof,
        col(c.made_at) <= asof,
        or_(col(c.ended_at).is_(None), col(c.ended_at) > asof),
    )
    rows = session.exec(
        select(
            c.agency,
            func.sum(case((settled, 1), else_=0)),
            func.sum(case((kept, 1), else_=0)),
            func.sum(case((open_late, 1), else_=0)),
        ).group_by(c.agency)
    )
    for agency_id, due, kept_n, late in rows:
        f = figures[_group(registry, agency_id)]
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
            state=_state(registry, r.agency),
            agency=r.agency,
            sent_at=r.sent_at or asof,
            ack_due=r.ack_due_at,
            acknowledged_at=r.acknowledged_at,
            answer_due=r.answer_due_at,
            decided_at=r.decided_at if r.status != RecipientStatus.CANCELLED.value else None,
            recalled_at=r.decided_at if r.status == RecipientStatus.CANCELLED.value else None,
        )
        for r in session.exec(select(RecipientRow))
        if r.kind != "board_summons"
    ]
    commitments_facts = []
    for c in session.exec(select(CommitmentRow)):
        commitments_facts.append(
            CommitmentFacts(
                state=_state(registry, c.agency),
                agency=c.agency,
                due=c.due,
                made_at=c.made_at,
                fulfilled_at=c.ended_at if c.status == "fulfilled" else None,
                ended_at=c.ended_at,
            )
        )
    return scorecard(
        recipients,
        commitments_facts,
        _summons(session),
        asof=asof,
        registry=registry,
        since=since,
    )


def _summons(session: Session) -> list[SummonsFacts]:
    registry = active_registry()
    attendance = {(a.session_id, a.agency): a.attended for a in session.exec(select(AttendanceRow))}
    query = (
        select(RecipientRow, RequestRow.board_session_id)
        .join(RequestRow, col(RequestRow.request_id) == col(RecipientRow.request_id))
        .where(RecipientRow.kind == "board_summons")
    )
    return [
        SummonsFacts(
            _state(registry, r.agency),
            r.agency,
            r.sent_at or r.acknowledged_at or datetime.min,
            attendance.get((session_id or "", r.agency)),
        )
        for r, session_id in session.exec(query)
    ]
