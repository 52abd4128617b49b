"""The scorecard's figures by day and by month (``scorecard_periods``), kept in the transaction
that records each message, so that the scorecard reads a few thousand sums instead of every
request.

Each recipient row (Board summons apart: scored live, they are few) adds to the day (and the
month) it was sent, each commitment to the day (and month) it was settled, what it counts
for as the record stands now (``recipient_figures`` with no moment); and to the month's
figures as of its end (span ``end``), what it counted for at the first instant of the next
month, so that the report of a month gone by reads one row an agency instead of the month's
requests answered since. A change to a row takes
its old share away and adds its new one: the rows a unit inserts in bulk are passed to
``keep``, and every change made on the ORM is caught at flush (``_on_flush``), whenever the
flush happens. ``rebuild`` derives the table again from the rows (the migration's backfill,
``mechbus db rebuild-aggregates``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import bindparam, delete, event, insert, select
from sqlalchemy import inspect as inspect_object
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlmodel import Session, col

from adapters.ledger.tables import (
    HOUR_BINS,
    SCORECARD_COLUMNS,
    SCORECARD_FIGURES,
    CommitmentRow,
    RecipientRow,
    scorecard_periods,
)
from bus.domain.lifecycle import RecipientStatus

# Lower edges, in hours, of the bins of time to acknowledge (the first bin has no start, the
# last no end). The histogram says in which bin the median lies and at which rank; the read
# model then reads that bin's values alone, so the median is exact.
HOUR_EDGES = (0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 30, 36, 48,
              72, 120, 168, 336)  # fmt: skip
assert len(HOUR_EDGES) == HOUR_BINS
EDGE_SECONDS = tuple(hours * 3600 for hours in HOUR_EDGES)  # compared in seconds, as in SQL
SUMMONS = "board_summons"
CANCELLED = RecipientStatus.CANCELLED.value
FIRST_BIN = len(SCORECARD_FIGURES)
Figures = list[int]  # in the order of tables.SCORECARD_COLUMNS
Key = tuple[str, date, str]  # (span, its first day, agency)
DAY, MONTH, END = "day", "month", "end"


def zero() -> Figures:
    return [0] * len(SCORECARD_COLUMNS)


def day_of(when: datetime) -> date:
    return when.astimezone(UTC).date()


def hour_bin(seconds: float) -> int:
    return max(0, bisect_right(EDGE_SECONDS, seconds) - 1)


def bin_bounds(i: int) -> tuple[float | None, float | None]:
    """[low, high) of bin ``i`` in seconds; None where it has no bound."""
    return (EDGE_SECONDS[i] if i else None), (
        EDGE_SECONDS[i + 1] if i + 1 < len(EDGE_SECONDS) else None
    )


def recipient_figures(row: Callable[[str], Any], asof: datetime | None = None) -> Figures:
    """What one request to one agency counts for in the scorecard as of ``asof`` (None: as
    the record stands), by the definitions of ``bus.domain.scorecard`` as the read model's SQL
    applies them; ``row(column)`` reads the recipient row."""

    def by(when: datetime | None) -> bool:
        return when is not None and (asof is None or when <= asof)

    figures = zero()
    acknowledged_at, ack_due = row("acknowledged_at"), row("ack_due_at")
    acked = by(acknowledged_at)
    recalled = row("status") == CANCELLED and by(row("decided_at"))
    figures[0] = 1
    figures[1] = int(acked)
    figures[2] = int(acked or (by(ack_due) and not recalled))
    figures[3] = int(acked and (ack_due is None or acknowledged_at <= ack_due))
    seconds = row("seconds_to_acknowledge")
    if acked and seconds is not None:
        figures[FIRST_BIN + hour_bin(seconds)] = 1
    return figures


def settled_at(row: Callable[[str], Any]) -> datetime:
    """``bus.domain.scorecard.settled_at`` on a commitment row."""
    ended, due = row("ended_at"), row("due")
    return ended if ended is not None and ended <= due else due  # type: ignore[no-any-return]


def commitment_figures(row: Callable[[str], Any]) -> Figures:
    figures = zero()
    ended = row("ended_at")
    figures[4] = 1
    figures[5] = int(row("status") == "fulfilled" and ended is not None and ended <= row("due"))
    return figures


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_end(month: date) -> datetime:
    """The first instant of the month after ``month`` (a first day), in UTC."""
    return datetime.combine(next_month(month), time(), UTC)


def _shares(model: Any, row: Callable[[str], Any]) -> list[tuple[Key, Figures]]:
    """What a row adds to which period of which agency; none when it counts nowhere."""
    if model is RecipientRow:
        if row("kind") == SUMMONS or row("sent_at") is None:
            return []
        day, figures = day_of(row("sent_at")), recipient_figures(row)
        month = day.replace(day=1)
        at_end = recipient_figures(row, month_end(month))
    else:
        day, figures = day_of(settled_at(row)), commitment_figures(row)
        month = day.replace(day=1)
        at_end = figures  # a commitment counts in the period it was settled in, then as now
    agency = row("agency")
    return [
        ((DAY, day, agency), figures),
        ((MONTH, month, agency), figures),
        ((END, month, agency), at_end),
    ]


class _Changes:
    def __init__(self) -> None:
        self.by_key: dict[Key, Figures] = defaultdict(zero)

    def add(self, model: Any, row: Callable[[str], Any], sign: int) -> None:
        # to its day and to its month, so that a long period sums months
        for key, figures in _shares(model, row):
            total = self.by_key[key]
            for i, value in enumerate(figures):
                total[i] += sign * value

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "span": span,
                "first_day": day,
                "agency": agency,
                **dict(zip(SCORECARD_COLUMNS, figures, strict=True)),
            }
            for (span, day, agency), figures in self.by_key.items()
            if any(figures)
        ]

    def write(self, connection: Any) -> None:
        rows = self.rows()
        if rows:
            connection.execute(_upsert(connection.dialect.name), rows)
        # A row whose shares all moved away (a commitment settled early moves to the day it
        # ended) goes, so the table is the same however the messages were batched.
        emptied = [
            {"s": span, "d": day, "a": agency}
            for (span, day, agency), f in self.by_key.items()
            if min(f) < 0
        ]
        if emptied:
            connection.execute(_DROP_EMPTY, emptied)


_DROP_EMPTY = delete(scorecard_periods).where(
    scorecard_periods.c.span == bindparam("s"),
    scorecard_periods.c.first_day == bindparam("d"),
    scorecard_periods.c.agency == bindparam("a"),
    *(scorecard_periods.c[name] == 0 for name in SCORECARD_COLUMNS),
)


@cache  # built once per dialect: building it again cost as much as the upsert's rows
def _upsert(dialect: str) -> Any:
    """Add to the period's row, making it if needed (both dialects say ON CONFLICT alike)."""
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = make(scorecard_periods)
    return statement.on_conflict_do_update(
        index_elements=["span", "first_day", "agency"],
        set_={
            name: scorecard_periods.c[name] + statement.excluded[name] for name in SCORECARD_COLUMNS
        },
    )


def keep(session: Session, inserted: Mapping[Any, list[dict[str, Any]]]) -> None:
    """Add the shares of the recipient and commitment rows a unit inserts in bulk (``inserted``:
    rows by table model); changes made on the ORM are counted at their flush."""
    changes = _Changes()
    for model in (RecipientRow, CommitmentRow):
        for values in inserted.get(model, ()):
            changes.add(model, values.get, +1)
    changes.write(session.connection())


@event.listens_for(OrmSession, "before_flush")
def _on_flush(session: OrmSession, flush_context: UOWTransaction, instances: Any) -> None:
    """Every recipient or commitment row added or changed on the ORM, whoever changes it:
    its share as last flushed goes, its share now comes."""
    changes = _Changes()
    for obj in session.new:
        if isinstance(obj, RecipientRow | CommitmentRow):
            changes.add(type(obj), partial(getattr, obj), +1)
    for obj in session.dirty:
        if isinstance(obj, RecipientRow | CommitmentRow):
            state = inspect_object(obj)
            if not state.modified:
                continue
            changes.add(type(obj), partial(_flushed, state), -1)
            changes.add(type(obj), partial(getattr, obj), +1)
    if changes.by_key:
        changes.write(session.connection())


def _flushed(state: Any, name: str) -> Any:
    """The value of an attribute as the database holds it (before this flush)."""
    history = state.attrs[name].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else getattr(state.object, name)


RECIPIENT_COLUMNS = (
    "agency",
    "kind",
    "status",
    "sent_at",
    "ack_due_at",
    "acknowledged_at",
    "seconds_to_acknowledge",
    "decided_at",
)
COMMITMENT_COLUMNS = ("agency", "due", "status", "ended_at")


def rebuild(session: Session) -> int:
    """Derive ``scorecard_periods`` again from every recipient and commitment row; the number
    of rows written (days and months). For rows written around the unit (a bulk load)."""
    changes = _Changes()
    for model, names in ((RecipientRow, RECIPIENT_COLUMNS), (CommitmentRow, COMMITMENT_COLUMNS)):
        columns = [col(getattr(model, name)) for name in names]
        for found in session.execute(select(*columns).execution_options(yield_per=5000)):
            values = dict(zip(names, found, strict=True))
            changes.add(model, values.get, +1)
    connection = session.connection()
    connection.execute(delete(scorecard_periods))
    rows = changes.rows()
    if rows:
        connection.execute(insert(scorecard_periods), rows)
    return len(rows)


def middle_ranks(bins: list[int]) -> list[tuple[int, int]]:
    """Where the median's values lie in a merged histogram: (bin, rank within it) of the
    middle value, or of the two middle values for an even count; empty when it is empty."""
    n = sum(bins)
    found = []
    for rank in sorted({(n - 1) // 2, n // 2}) if n else ():
        below = 0
        for i, count in enumerate(bins):
            if rank < below + count:
                found.append((i, rank - below))
                break
            below += count
    return found
