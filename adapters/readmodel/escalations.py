"""The escalation rungs that fired: a request's, a month's report (the Board's agenda is
adapters.readmodel.board)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.tables import EscalationRow


@dataclass(frozen=True)
class EscalationLine:
    request_id: str
    agency: str
    clock: str
    level: str
    to_agency: str
    due_at: datetime
    fired_at: datetime
    board_session_id: str | None


def escalation_lines(session: Session, request_ids: Iterable[str]) -> list[EscalationLine]:
    query = (
        select(EscalationRow)
        .where(col(EscalationRow.request_id).in_(list(request_ids)))
        .order_by(col(EscalationRow.id))
    )
    return [
        EscalationLine(
            e.request_id,
            e.agency,
            e.clock,
            e.level,
            e.to_agency,
            e.due_at,
            e.fired_at,
            e.board_session_id,
        )
        for e in session.exec(query)
    ]


def monthly_report_rungs(session: Session, start: datetime, end: datetime) -> list[EscalationRow]:
    """The failures that reached the monthly report in [``start``, ``end``), by agency."""
    query = (
        select(EscalationRow)
        .where(col(EscalationRow.fired_at) >= start, col(EscalationRow.fired_at) < end)
        .where(EscalationRow.level == "monthly_report")
        .order_by(col(EscalationRow.agency))
    )
    return list(session.exec(query).all())
