"""Bad input kept with its reason (bodies stay sealed), and what the hub made of a message."""

from __future__ import annotations

from sqlmodel import Session, col, select

from adapters.ledger.tables import DeadLetterRow, MessageRow


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


def dead_letter(session: Session, dead_id: int) -> DeadLetterRow | None:
    return session.get(DeadLetterRow, dead_id)


def recorded_or_refused(
    session: Session, message_id: str, nats_subject: str
) -> tuple[bool, tuple[str, str] | None]:
    """Whether the hub recorded message ``message_id``, and its refusal (reason, detail) if it
    kept the message handed over on ``nats_subject`` as a dead letter instead."""
    recorded = session.exec(
        select(MessageRow.stream_seq).where(MessageRow.message_id == message_id)
    ).first()
    refused = session.exec(
        select(DeadLetterRow.reason, DeadLetterRow.detail).where(
            DeadLetterRow.message_id == message_id, DeadLetterRow.nats_subject == nats_subject
        )
    ).first()
    return recorded is not None, (refused[0], refused[1]) if refused else None
