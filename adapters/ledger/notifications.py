"""Each attempt to hand a message to an agency outside NATS (a webhook POST, an email), kept as a
row of ``notification_attempts``: the webhook dispatcher's deliveries and the email notices'
state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import NotificationAttemptRow


@dataclass(frozen=True)
class Attempt:
    channel: str  # webhook, email, digest
    agency: str
    message_id: str
    attempt: int
    outcome: str  # delivered, failed, gave_up, sent
    final: bool = False
    status_code: int | None = None
    elapsed_ms: int | None = None
    detail: str | None = None


def record_attempt(ledger: SqlLedger, attempt: Attempt, at: datetime) -> None:
    """Write ``attempt``, made at ``at``, in a transaction of its own."""
    with Session(ledger.engine) as session:
        session.add(
            NotificationAttemptRow(
                channel=attempt.channel,
                agency=attempt.agency,
                message_id=attempt.message_id,
                attempt=attempt.attempt,
                at=at,
                outcome=attempt.outcome,
                final=attempt.final,
                status_code=attempt.status_code,
                elapsed_ms=attempt.elapsed_ms,
                detail=(attempt.detail or None) and attempt.detail[:200],  # the column's width
            )
        )
        session.commit()


def was_sent(ledger: SqlLedger, channel: str, message_id: str) -> bool:
    """Whether ``message_id`` already went out on ``channel`` (an attempt recorded as sent)."""
    with Session(ledger.engine) as session:
        query = select(NotificationAttemptRow.id).where(
            NotificationAttemptRow.channel == channel,
            NotificationAttemptRow.message_id == message_id,
            NotificationAttemptRow.outcome == "sent",
        )
        return session.exec(query.limit(1)).first() is not None
