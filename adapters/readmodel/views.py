"""Read-side views of the ledger for people: the requests table (CLI now, dashboard later)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from rich.table import Table
from sqlmodel import Session, col, select

from adapters.ledger.tables import EscalationRow, MessageRow, RecipientRow, RequestRow


@dataclass(frozen=True)
class RequestLine:
    request_id: str
    kind: str
    case_ref: str | None
    urgency: str
    recipient: str
    status: str
    sent_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    decided_at: datetime | None
    # Set once the request closed: it then takes no further message (bus.domain.lifecycle).
    closed_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def request_lines(
    session: Session,
    *,
    request_ids: Iterable[str] | None = None,
    limit: int | None = 200,
    offset: int = 0,
) -> list[RequestLine]:
    query = (
        select(RequestRow, RecipientRow)
        .join(RecipientRow, col(RecipientRow.request_id) == col(RequestRow.request_id))
        .order_by(
            col(RequestRow.sent_at).desc(), col(RequestRow.request_id), col(RecipientRow.position)
        )
        .limit(limit)
        .offset(offset)
    )
    if request_ids is not None:
        query = query.where(col(RequestRow.request_id).in_(list(request_ids)))
    return [
        RequestLine(
            request_id=req.request_id,
            kind=req.type.split(".")[2],
            case_ref=req.case_ref,
            urgency=req.urgency,
            recipient=rec.agency,
            status=rec.status,
            sent_at=req.sent_at,
            delivered_at=rec.delivered_at,
            acknowledged_at=rec.acknowledged_at,
            acknowledged_by=rec.acknowledged_by,
            decided_at=rec.decided_at,
            closed_at=req.closed_at,
        )
        for req, rec in session.exec(query)
    ]


_STATUS_STYLE = {
    "sent": "bold red",
    "delivered": "yellow",
    "acknowledged": "cyan",
    "accepted": "green",
    "provisional": "blue",
    "declined": "magenta",
    "cancelled": "dim",
}


def _clock(value: datetime | None) -> str:
    return value.strftime("%H:%M:%S") if value else "-"


def _after(value: datetime | None, since: datetime) -> str:
    return f"+{(value - since).total_seconds():.2f}s" if value else "-"


def requests_table(lines: list[RequestLine], title: str = "Requests") -> Table:
    caption = "times in UTC; +s after sending; closed: the request takes nothing more"
    table = Table(title=title, header_style="bold", caption=caption)
    for name in ("request", "kind", "case", "to", "status", "sent", "receipt", "ack", "closed"):
        table.add_column(name, no_wrap=name in ("request", "status", "sent"))
    for line in lines:
        style = _STATUS_STYLE.get(line.status, "")
        kind = line.kind.replace("_", " ") + (
            " [bold red](urgent)[/]" if line.urgency == "urgent" else ""
        )
        table.add_row(
            line.request_id[-6:],
            kind,
            line.case_ref or "-",
            line.recipient,
            f"[{style}]{line.status}[/]" if style else line.status,
            _clock(line.sent_at),
            _after(line.delivered_at, line.sent_at),
            _after(line.acknowledged_at, line.sent_at),
            _after(line.closed_at, line.sent_at) if line.closed_at else "-",
        )
    return table


@dataclass(frozen=True)
class TimelineLine:
    stream_seq: int
    recorded_at: datetime
    source: str
    type: str
    thread_id: str


def timeline(session: Session, thread_ids: Iterable[str]) -> list[TimelineLine]:
    """Every recorded message of the given requests, in the order the bus carried them."""
    query = (
        select(MessageRow)
        .where(col(MessageRow.thread_id).in_(list(thread_ids)))
        .order_by(col(MessageRow.stream_seq))
    )
    return [
        TimelineLine(m.stream_seq, m.recorded_at, m.source, m.type, m.thread_id)
        for m in session.exec(query)
    ]


def timeline_table(lines: list[TimelineLine], title: str = "What crossed the bus") -> Table:
    table = Table(title=title, header_style="bold")
    for name in ("seq", "recorded", "from", "message", "request"):
        table.add_column(name)
    for line in lines:
        table.add_row(
            str(line.stream_seq),
            line.recorded_at.strftime("%H:%M:%S.%f")[:-3],
            line.source,
            line.type.removeprefix("mech.").removesuffix(".v1"),
            line.thread_id[-6:],
        )
    return table


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


def escalation_table(lines: list[EscalationLine], title: str = "Escalations") -> Table:
    table = Table(title=title, header_style="bold", caption="+s: after the deadline")
    for name in ("rung", "owed by", "clock", "told", "fired", "board session"):
        table.add_column(name)
    for line in lines:
        table.add_row(
            line.level.replace("_", " "),
            line.agency,
            line.clock,
            line.to_agency,
            _after(line.fired_at, line.due_at),
            line.board_session_id or "-",
        )
    return table
