"""What the metrics read from the ledger at each scrape: the requests still owed an answer by
the Mexican state whose agency owes it (how many, and since when), and the outbox's waiting
messages. Counts and ages only: never a request, a case or an agency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from adapters.ledger.tables import OutboxRow, RecipientRow
from bus.domain.lifecycle import UNANSWERED

NO_STATE = "none"  # an agency of no state (a federal one): still a bounded label


@dataclass(frozen=True)
class Owed:
    """The unanswered requests of one state's agencies."""

    state: str
    requests: int
    oldest_sent_at: datetime | None


def owed_by_state(session: Session) -> list[Owed]:
    query = (
        select(RecipientRow.state, func.count(), func.min(RecipientRow.sent_at))
        .where(col(RecipientRow.status).in_([s.value for s in UNANSWERED]))
        .group_by(col(RecipientRow.state))
        .order_by(col(RecipientRow.state))
    )
    return [
        Owed(state or NO_STATE, int(count), _aware(oldest))
        for state, count, oldest in session.exec(query).all()
    ]


def _aware(moment: datetime | None) -> datetime | None:
    # min() keeps the column's type on both backends; SQLite's value may come back naive
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def outbox_waiting(session: Session) -> int:
    query = select(func.count()).select_from(OutboxRow).where(col(OutboxRow.published_at).is_(None))
    return int(session.exec(query).one())
