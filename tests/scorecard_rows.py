"""The scorecard as the read model computed it before the per-day figures: every request of the
period aggregated in SQL, the median over every value. Kept here only as the reference the
per-day figures are checked against (``tests/test_scorecard_periods.py``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import and_, case, func, not_, union
from sqlmodel import Session, col, or_, select

from adapters.ledger.tables import CommitmentRow, RecipientRow
from adapters.readmodel.scorecard import _group, _summons
from bus.domain.lifecycle import UNANSWERED, RecipientStatus
from bus.domain.scorecard import Group, StateScore, order
from schemas.registry import AgencyRegistry, active_registry


def state_scores_by_rows(
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
