"""Rich tables for the terminal: the requests, what crossed the bus, the escalations."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from adapters.readmodel.cases import TimelineLine
from adapters.readmodel.escalations import EscalationLine
from adapters.readmodel.names import institution
from adapters.readmodel.requests import RequestLine

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
            institution(line.recipient),
            f"[{style}]{line.status}[/]" if style else line.status,
            _clock(line.sent_at),
            _after(line.delivered_at, line.sent_at),
            _after(line.acknowledged_at, line.sent_at),
            _after(line.closed_at, line.sent_at) if line.closed_at else "-",
        )
    return table


def timeline_table(lines: list[TimelineLine], title: str = "What crossed the bus") -> Table:
    table = Table(title=title, header_style="bold")
    for name in ("seq", "recorded", "from", "message", "request"):
        table.add_column(name)
    for line in lines:
        table.add_row(
            str(line.stream_seq),
            line.recorded_at.strftime("%H:%M:%S.%f")[:-3],
            institution(line.source),
            line.type.removeprefix("mech.").removesuffix(".v1"),
            line.thread_id[-6:],
        )
    return table


def escalation_table(lines: list[EscalationLine], title: str = "Escalations") -> Table:
    table = Table(title=title, header_style="bold", caption="+s: after the deadline")
    for name in ("rung", "owed by", "clock", "told", "fired", "board session"):
        table.add_column(name)
    for line in lines:
        table.add_row(
            line.level.replace("_", " "),
            institution(line.agency),
            line.clock,
            institution(line.to_agency),
            _after(line.fired_at, line.due_at),
            line.board_session_id or "-",
        )
    return table
