"""The newest messages the ledger recorded, for the dashboard's live feed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from adapters.ledger.tables import MessageRow, RequestRow


@dataclass(frozen=True)
class BusEvent:
    seq: int
    type: str  # short: "acknowledgement", "escalated", ...
    source: str
    case_ref: str | None
    request_id: str
    recorded_at: str  # ISO, UTC


def recorded_since(
    session: Session, after: int, types: Sequence[str], limit: int = 100
) -> list[BusEvent]:
    """Messages of ``types`` recorded after ledger sequence ``after``, oldest first."""
    rows = list(
        session.exec(
            select(MessageRow)
            .where(col(MessageRow.seq) > after, col(MessageRow.type).in_(types))
            .order_by(col(MessageRow.seq))
            .limit(limit)
        )
    )
    # an agency's answer need not repeat the case reference: its request has it
    threads = sorted({m.thread_id for m in rows if not m.case_ref})
    cases = dict(
        session.exec(
            select(RequestRow.request_id, RequestRow.case_ref).where(
                col(RequestRow.request_id).in_(threads)
            )
        ).all()
        if threads
        else []
    )
    return [
        BusEvent(
            int(m.seq or 0),
            m.type.split(".")[2],
            m.source,
            m.case_ref or cases.get(m.thread_id),
            m.thread_id,
            m.recorded_at.isoformat(),
        )
        for m in rows
    ]
