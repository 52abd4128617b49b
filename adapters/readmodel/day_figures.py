"""The scorecard's figures of a period by agency, from the figures by month and by day
(``adapters.ledger.aggregates``) for its whole months and days and from the rows for the rest: its
part-days, and the requests of its whole days whose figures as of the period's end differ
from what the record says now (acknowledged, recalled or falling due after it). For a period
that ends now those are a handful of rows, and a period that is one whole month as of its end
(the monthly report of a month gone by) reads the month's figures as of its end instead: the
cost follows the number of days and agencies, not the number of requests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlmodel import Session, col

from adapters.ledger import aggregates
from adapters.ledger.aggregates import COMMITMENT_COLUMNS, RECIPIENT_COLUMNS, Figures
from adapters.ledger.tables import SCORECARD_COLUMNS, CommitmentRow, RecipientRow, scorecard_periods

DAY = timedelta(days=1)


def _midnight(when: datetime) -> datetime:
    return datetime.combine(aggregates.day_of(when), time(), UTC)


def agency_figures(
    session: Session, *, asof: datetime, since: datetime | None
) -> dict[str, Figures]:
    """By agency, what the requests sent and the commitments settled in [since, asof] count
    for as of ``asof``, in the order of ``tables.SCORECARD_COLUMNS``."""
    totals: dict[str, Figures] = defaultdict(aggregates.zero)

    def add(agency: str, figures: Figures, sign: int = 1) -> None:
        total = totals[agency]
        for i, value in enumerate(figures):
            total[i] += sign * value

    first = None  # whole days begin here (the first midnight in the period)
    if since is not None:
        first = _midnight(since)
        if first < since:
            first += DAY
    last = _midnight(asof)  # whole days end here
    parts: list[tuple[datetime, datetime, bool]]  # [low, high) or [low, high]
    if since is not None and first is not None and first >= last:
        parts = [(since, asof, True)]
    elif first is not None and _one_month_at_its_end(first, last, asof):
        for agency, *sums in session.execute(_month_at_its_end(first)):
            add(agency, [int(v or 0) for v in sums])
        parts = [(last, asof, True)]
        if since is not None and since < first:
            parts.append((since, first, False))
    else:
        for agency, *sums in session.execute(_whole_days(first, last)):
            add(agency, [int(v or 0) for v in sums])
        for row in _changed_after(session, first, last, asof):
            add(row["agency"], aggregates.recipient_figures(row.get), -1)
            add(row["agency"], aggregates.recipient_figures(row.get, asof))
        parts = [(last, asof, True)]
        if since is not None and first is not None and since < first:
            parts.append((since, first, False))
    for low, high, inclusive in parts:
        for row in _recipients_sent(session, low, high, inclusive):
            add(row["agency"], aggregates.recipient_figures(row.get, asof))
        for row in _commitments_settled(session, low, high, inclusive):
            add(row["agency"], aggregates.commitment_figures(row.get))
    return dict(totals)


def _one_month_at_its_end(first: datetime, last: datetime, asof: datetime) -> bool:
    """The whole days are one calendar month and the period ends as it ends."""
    return first.day == 1 and asof == last == aggregates.month_end(first.date())


def _month_at_its_end(first: datetime) -> Any:
    d = scorecard_periods.c
    sums = (d[name] for name in SCORECARD_COLUMNS)
    return select(d.agency, *sums).where(d.span == aggregates.END, d.first_day == first.date())


def _whole_days(first: datetime | None, last: datetime) -> Any:
    """Sums by agency over the whole days in [first, last): whole months from their month's
    row, the days before and after them from their day's rows."""
    d = scorecard_periods.c

    def days(low: date | None, high: date) -> Any:
        bounds = [d.first_day < high] + ([d.first_day >= low] if low is not None else [])
        return and_(d.span == aggregates.DAY, *bounds)

    low = None if first is None else first.date()
    high = last.date()
    months_from = low if low is None or low.day == 1 else aggregates.next_month(low)
    months_to = high.replace(day=1)
    if months_from is None or months_from < months_to:
        month_bounds = [d.first_day < months_to]
        if months_from is not None:
            month_bounds.append(d.first_day >= months_from)
        spans = [and_(d.span == aggregates.MONTH, *month_bounds), days(months_to, high)]
        if low is not None and months_from is not None and low < months_from:
            spans.append(days(low, months_from))
        where = or_(*spans)
    else:
        where = days(low, high)
    sums = (func.sum(d[name]) for name in SCORECARD_COLUMNS)
    return select(d.agency, *sums).where(where).group_by(d.agency)


def _recipient_rows(
    session: Session, *conditions: Any, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    r = RecipientRow
    columns = [col(getattr(r, name)) for name in RECIPIENT_COLUMNS]
    query = select(col(r.id), *columns).where(col(r.kind) != aggregates.SUMMONS, *conditions)
    if limit is not None:
        query = query.limit(limit)
    for found in session.execute(query):
        yield dict(zip(("id", *RECIPIENT_COLUMNS), found, strict=True))


def _sent(low: datetime | None, high: datetime, inclusive: bool) -> list[Any]:
    sent = col(RecipientRow.sent_at)
    conditions = [sent <= high if inclusive else sent < high]
    if low is not None:
        conditions.append(sent >= low)
    return conditions


def _recipients_sent(
    session: Session, low: datetime, high: datetime, inclusive: bool
) -> Iterator[dict[str, Any]]:
    return _recipient_rows(session, *_sent(low, high, inclusive))


# Rows past which a condition is read with the period's bounds in SQL rather than by its own
# index alone (see _changed_after).
FEW = 2000


def _changed_after(
    session: Session, first: datetime | None, last: datetime, asof: datetime
) -> list[dict[str, Any]]:
    """Requests of the whole days whose figures as of ``asof`` are not those of the record
    now: acknowledged after it, recalled after it, or unacknowledged and due after it.

    Near now few rows meet each condition, and they are read by the condition's own index
    (a planner without histograms would read the whole period by ``sent_at`` instead); when
    more than ``FEW`` meet one (a month long past), the period is read once, by ``sent_at``,
    for all three."""
    r = RecipientRow
    conditions = (
        col(r.acknowledged_at) > asof,
        col(r.ack_due_at) > asof,  # kept below only when still unacknowledged
        and_(col(r.status) == aggregates.CANCELLED, col(r.decided_at) > asof),
    )
    rows: list[dict[str, Any]] = []
    for condition in conditions:
        found = list(_recipient_rows(session, condition, limit=FEW + 1))
        if len(found) > FEW:
            rows = list(_recipient_rows(session, *_sent(first, last, False), or_(*conditions)))
            break
        rows += found
    changed = {}
    for row in rows:
        sent = row["sent_at"]
        if sent is None or sent >= last or (first is not None and sent < first):
            continue
        if _differs(row, asof):
            changed[row["id"]] = row
    return list(changed.values())


def _differs(row: dict[str, Any], asof: datetime) -> bool:
    """The row meets one of the conditions of ``_changed_after`` (ack_due's only unacknowledged)."""
    acknowledged, decided = row["acknowledged_at"], row["decided_at"]
    return (
        (acknowledged is not None and acknowledged > asof)
        or (acknowledged is None and row["ack_due_at"] is not None and row["ack_due_at"] > asof)
        or (row["status"] == aggregates.CANCELLED and decided is not None and decided > asof)
    )


def _commitments_settled(
    session: Session, low: datetime, high: datetime, inclusive: bool
) -> Iterator[dict[str, Any]]:
    """Commitments settled (``aggregates.settled_at``) in a part-day: ended early in it, or
    due in it and not ended early."""
    c = CommitmentRow
    ended, due = col(c.ended_at), col(c.due)
    early = and_(ended.is_not(None), ended <= due)

    def within(when: Any) -> Any:
        return and_(when >= low, when <= high if inclusive else when < high)

    columns = [col(getattr(c, name)) for name in COMMITMENT_COLUMNS]
    for condition in (and_(early, within(ended)), and_(not_(early), within(due))):
        for found in session.execute(select(*columns).where(condition)):
            yield dict(zip(COMMITMENT_COLUMNS, found, strict=True))


def open_late_commitments(session: Session, asof: datetime) -> list[tuple[str, int]]:
    """Commitments made by ``asof``, past due and still open at it, by agency: those not
    ended, counted from the index on (ended_at, agency, ...), and those ended after it, read
    and counted here (grouped in SQL, that range would be read by agency, the whole table)."""
    c = CommitmentRow
    ended = col(c.ended_at)
    late = (col(c.due) < asof, col(c.made_at) <= asof)
    counted: Counter[str] = Counter()
    query = select(col(c.agency), func.count()).where(ended.is_(None), *late).group_by(c.agency)
    for agency, n in session.execute(query):
        counted[agency] += n
    counted.update(session.execute(select(col(c.agency)).where(ended > asof, *late)).scalars())
    return list(counted.items())


def committed_agencies(session: Session) -> list[str]:
    """Every agency that ever made a commitment (each commitment counts in one month)."""
    d = scorecard_periods.c
    query = select(d.agency).where(d.span == aggregates.MONTH, d.commitments_settled > 0).distinct()
    return list(session.execute(query).scalars())


def median_hours(
    session: Session,
    agencies: set[str],
    bins: list[int],
    *,
    asof: datetime,
    since: datetime | None,
) -> float | None:
    """The exact median time to acknowledge, in hours, of the requests the agencies received
    in [since, asof]: ``bins`` (their merged histogram as of ``asof``) says which bin holds the
    middle value(s) and at which rank, and only that bin's values are read (an index range)."""
    r = RecipientRow
    seconds = col(r.seconds_to_acknowledge)
    acknowledged = col(r.acknowledged_at)
    values: list[float] = []
    read: dict[int, list[float]] = {}
    for i, rank in aggregates.middle_ranks(bins):
        if i not in read:
            low, high = aggregates.bin_bounds(i)
            query = select(seconds).where(
                col(r.agency).in_(agencies),
                seconds.is_not(None),
                acknowledged.is_not(None),
                acknowledged <= asof,
                col(r.kind) != aggregates.SUMMONS,
                *_sent(since, asof, True),
            )
            if low is not None:
                query = query.where(seconds >= low)
            if high is not None:
                query = query.where(seconds < high)
            read[i] = sorted(session.execute(query).scalars())
        values.append(read[i][rank])
    return median(values) / 3600 if values else None
