"""The joint-responsibility scorecard by state, computed by the database (and the reference
computation from the facts, which the tests compare it with)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, text, union
from sqlmodel import Session, col, or_, select

from adapters.ledger import aggregates
from adapters.ledger.tables import (
    OWED_NOW,
    OWED_NOW_SQL,
    AttendanceRow,
    CommitmentRow,
    RecipientRow,
    RequestRow,
)
from adapters.readmodel import day_figures as days
from bus.domain.lifecycle import RecipientStatus
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
    """``bus.domain.scorecard.scorecard`` computed by the database: the same definitions (the
    tests check both give the same figures), read from the figures by day and month
    (``adapters.ledger.aggregates``) for the whole days of the period, and from the rows for
    what those cannot say: the part-days at its ends, the requests whose figures as of
    ``asof`` are not yet what the record says now, what is overdue at ``asof`` and the Board
    summons, and the values of the one bin of time to acknowledge that holds the median
    (``day_figures.median_hours``)."""
    registry = active_registry()
    figures: dict[Group, list[int]] = defaultdict(aggregates.zero)
    agencies: dict[Group, set[str]] = defaultdict(set)
    for agency, agency_figures in days.agency_figures(session, asof=asof, since=since).items():
        key = _group(registry, agency)
        agencies[key].add(agency)
        total = figures[key]
        for i, value in enumerate(agency_figures):
            total[i] += value
    overdue: dict[Group, int] = defaultdict(int)
    for agency, n in (*_overdue_answers(session, asof), *days.open_late_commitments(session, asof)):
        overdue[_group(registry, agency)] += n
    summons: dict[Group, list[int]] = defaultdict(lambda: [0, 0])
    for s in _summons(session):
        if s.sent_at <= asof and (since is None or s.sent_at >= since):
            counted = summons[_group(registry, s.agency)]
            counted[0] += 1
            counted[1] += int(bool(s.attended))
    # Rows as the scorecard has always listed them: agencies that received requests in the
    # period, that ever made a commitment, that owe something or were summoned.
    keys = (
        {k for k, f in figures.items() if f[0]}
        | {_group(registry, agency) for agency in days.committed_agencies(session)}
        | overdue.keys()
        | summons.keys()
    )
    scores = []
    for key in sorted(keys, key=order):
        f = figures.get(key) or aggregates.zero()
        bins = f[aggregates.FIRST_BIN :]
        hours = days.median_hours(session, agencies[key], bins, asof=asof, since=since)
        scores.append(_score(key, f, hours, overdue.get(key, 0), summons.get(key)))
    return scores


def _score(
    key: Group, f: list[int], hours: float | None, overdue: int, summons: list[int] | None
) -> StateScore:
    return StateScore(
        state=key[1],
        requests_received=f[0],
        acknowledged_on_time=f[3],
        acknowledgements_due=f[2],
        median_hours_to_acknowledge=None if hours is None else round(hours, 2),
        commitments_due=f[4],
        commitments_kept_on_time=f[5],
        open_overdue=overdue,
        summons=summons[0] if summons else 0,
        summons_attended=summons[1] if summons else 0,
        section=key[0],
        agency=key[2],
    )


def _overdue_answers(session: Session, asof: datetime) -> list[tuple[str, int]]:
    """Acknowledgements and answers past their deadline and still owed at ``asof``, by agency.

    Open overdue looks at every request ever sent, but only small slices can be owed at
    ``asof``: those still owed now, counted from the index that holds them alone, and those
    acknowledged or decided after ``asof`` whose deadline had passed at it (their index
    ranges say so without reading the rows). The full predicate then runs on those only."""
    r = RecipientRow
    acked = and_(col(r.acknowledged_at).is_not(None), col(r.acknowledged_at) <= asof)
    # NOT NULL said outright: "not decided" must be true, not unknown, for an open answer
    answered = and_(col(r.decided_at).is_not(None), col(r.decided_at) <= asof)
    recalled = and_(col(r.status) == RecipientStatus.CANCELLED.value, answered)
    decided = and_(col(r.status) != RecipientStatus.CANCELLED.value, answered)
    owed_at = (
        col(r.sent_at) <= asof,
        r.kind != aggregates.SUMMONS,
        not_(recalled),
        or_(
            and_(not_(acked), col(r.ack_due_at) < asof),
            and_(acked, not_(decided), col(r.answer_due_at) < asof),
        ),
    )
    ack_due, answer_due = col(r.ack_due_at), col(r.answer_due_at)
    decided_after = col(r.decided_at) > asof
    # Answered after asof with a deadline before it: each branch bounded by the columns of
    # one index, read alone (with the predicate beside them a planner may pick another
    # column's index), and the few rows they name counted after.
    answered_after: Any = union(
        select(r.id).where(col(r.acknowledged_at) > asof, ack_due < asof),
        select(r.id).where(decided_after, ack_due < asof),
        select(r.id).where(decided_after, answer_due < asof),
    )
    ids = list(session.execute(answered_after).scalars())
    counted: Counter[str] = Counter()
    slices: list[tuple[Any, ...]] = [(text(OWED_NOW_SQL),)]
    for chunk in range(0, len(ids), 500):
        slices.append((col(r.id).in_(ids[chunk : chunk + 500]), col(r.status).not_in(OWED_NOW)))
    for where in slices:
        query = select(r.agency, func.count()).where(*where, *owed_at).group_by(r.agency)
        for agency, n in session.exec(query):
            counted[agency] += n
    return list(counted.items())


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
