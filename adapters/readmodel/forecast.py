"""The history the caseload projection starts from (``bus.domain.forecast.History``), counted by
the database: weekly new and closed cases, the cases open before the first week, and per state
what it has open now and how often it left a request unanswered.

A case is a distinct case number of the requests (Board summons aside): new in the week of its
first request, closed when every request of it is closed (at the last one's closing; a case
that got a new request since counts as open). A request to a state is unanswered when its
acknowledgement came due and the agency had neither acknowledged nor answered it by then
(a request recalled before it came due does not count). The weeks end at ``now`` and never
begin before the ledger's first request, so a young ledger gives a short history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, not_, null, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from adapters.ledger.tables import RecipientRow, RequestRow
from bus.domain.forecast import History, StateFacts, WeekFacts
from bus.domain.lifecycle import RecipientStatus
from bus.domain.request_state import FINAL_RECIPIENT

BOARD_SUMMONS = "mech.request.board_summons.v1"
# What a state's own agencies are asked; a shelter's placement and a Board summons are not.
STATE_KINDS_EXCLUDED = ("board_summons", "relocation")
WEEK = timedelta(weeks=1)


def forecast_history(session: Session, *, now: datetime, weeks: int) -> History:
    """Up to ``weeks`` complete weeks ending at ``now``."""
    q = RequestRow
    case_requests = (col(q.case_ref).is_not(None), q.type != BOARD_SUMMONS)
    first = session.exec(select(func.min(q.sent_at)).where(*case_requests)).one()
    available = int((now - first) / WEEK) if first is not None else 0
    count = max(0, min(weeks, available))
    start = now - count * WEEK
    bounds = [start + k * WEEK for k in range(count + 1)]
    new: dict[int, int] = {}
    ended: dict[int, int] = {}
    open_at_start = 0
    for opened, closed, n in _case_weeks(session, bounds):
        if opened is not None:
            new[opened] = new.get(opened, 0) + n
        if closed is not None:
            ended[closed] = ended.get(closed, 0) + n
        if opened is None and closed is None:
            open_at_start += n
        if opened is None and closed is not None:
            open_at_start += n  # opened before the first week, closed within it
    week_facts, open_now = [], open_at_start
    for k in range(count):
        open_now += new.get(k, 0) - ended.get(k, 0)
        week_facts.append(WeekFacts(bounds[k], new.get(k, 0), ended.get(k, 0), open_now))
    in_history = session.exec(
        select(func.count(func.distinct(q.case_ref))).where(col(q.sent_at) >= start, *case_requests)
    ).one()
    return History(
        asof=now,
        open_at_start=open_at_start,
        weeks=tuple(week_facts),
        states=_states(session, now, start),
        cases_in_history=int(in_history or 0),
    )


def _case_weeks(
    session: Session, bounds: list[datetime]
) -> list[tuple[int | None, int | None, int]]:
    """How many cases opened and closed in each pair of weeks (0 = the first), in one grouped
    query: the week each case opened in (None: before the first; such a case closed before it
    is left out) and the week it closed in (None: open at the end, or before the first week).
    """
    q = RequestRow
    start, end = bounds[0], bounds[-1]
    case_requests = (col(q.case_ref).is_not(None), q.type != BOARD_SUMMONS)
    # only the cases the history can count: open, or with a request sent or closed since its
    # start; every case closed before it is left out without being grouped
    touched = select(q.case_ref).where(
        *case_requests,
        or_(col(q.closed_at).is_(None), col(q.closed_at) >= start, col(q.sent_at) >= start),
    )
    cases = (
        select(
            func.min(q.sent_at).label("opened"),
            func.max(q.closed_at).label("closed"),
            func.sum(case((col(q.closed_at).is_(None), 1), else_=0)).label("still_open"),
        )
        .where(*case_requests, col(q.case_ref).in_(touched))
        .group_by(q.case_ref)
        .subquery()
    )
    closed = case((cases.c.still_open == 0, cases.c.closed), else_=None)
    inner = (
        select(
            _week(cases.c.opened, bounds).label("opened"),
            _week(closed, bounds).label("closed"),
        )
        .where(cases.c.opened < end)
        .where(or_(closed.is_(None), closed >= start))  # closed before the history: no part
        .subquery()
    )
    # PostgreSQL groups by columns, not by a repeated expression with its own parameters
    rows = session.exec(
        select(inner.c.opened, inner.c.closed, func.count()).group_by(
            inner.c.opened, inner.c.closed
        )
    ).all()
    return [
        (None if o is None else int(o), None if c is None else int(c), int(n)) for o, c, n in rows
    ]


def _week(when: Any, bounds: list[datetime]) -> Any:
    """The week ``when`` falls in (0 = the first); None before the first week or from now."""
    if len(bounds) < 2:
        return null()
    weeks = [(when < bound, literal(k)) for k, bound in enumerate(bounds[1:])]
    return case((when < bounds[0], null()), *weeks, else_=null())


def _states(session: Session, now: datetime, start: datetime) -> tuple[StateFacts, ...]:
    r, q = RecipientRow, RequestRow
    mine = and_(col(r.state).is_not(None), col(r.kind).not_in(STATE_KINDS_EXCLUDED))

    def joined(*columns: Any) -> Any:
        return sa_select(*columns).join_from(r, q, col(q.request_id) == col(r.request_id))

    final = [s.value for s in FINAL_RECIPIENT]
    open_rows = session.exec(
        joined(r.state, func.count(), func.count(func.distinct(q.case_ref)))
        .where(mine, col(r.status).not_in(final))
        # the few open requests first: SQLite would otherwise visit every recipient ever asked
        .where(col(r.request_id).in_(select(q.request_id).where(col(q.closed_at).is_(None))))
        .group_by(r.state)
    ).all()
    recalled_in_time = and_(
        col(r.status) == RecipientStatus.CANCELLED.value, col(r.decided_at) <= col(r.ack_due_at)
    )
    due = and_(col(r.ack_due_at).is_not(None), col(r.ack_due_at) <= now, not_(recalled_in_time))
    silent = and_(
        due,
        or_(col(r.acknowledged_at).is_(None), col(r.acknowledged_at) > col(r.ack_due_at)),
        or_(col(r.decided_at).is_(None), col(r.decided_at) > col(r.ack_due_at)),
    )
    history_rows = session.exec(
        joined(
            r.state,
            func.count(),
            func.count(func.distinct(q.case_ref)),
            func.sum(case((due, 1), else_=0)),
            func.sum(case((silent, 1), else_=0)),
        )
        .where(mine, col(r.sent_at) >= start, col(r.sent_at) <= now)
        .group_by(r.state)
    ).all()
    figures: dict[str, dict[str, int]] = {}
    for state, requests, cases in open_rows:
        figures.setdefault(state, {}).update(open_requests=requests, open_cases=cases)
    for state, requests, cases, due_n, silent_n in history_rows:
        figures.setdefault(state, {}).update(
            requests=requests, cases=cases, due=int(due_n or 0), unanswered=int(silent_n or 0)
        )
    return tuple(
        StateFacts(
            state=state,
            open_cases=f.get("open_cases", 0),
            open_requests=f.get("open_requests", 0),
            cases_in_history=f.get("cases", 0),
            requests_in_history=f.get("requests", 0),
            due=f.get("due", 0),
            unanswered=f.get("unanswered", 0),
        )
        for state, f in sorted(figures.items())
    )
