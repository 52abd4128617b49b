"""Bad input kept with its reason (bodies stay sealed)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from adapters.ledger.tables import DeadLetterRow


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
