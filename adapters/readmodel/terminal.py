"""Rich tables for the terminal: the requests, what crossed the bus, the escalations, in the
current language (headers and codes)."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from adapters.i18n import N_, _
from adapters.readmodel.cases import TimelineLine
from adapters.readmodel.columns import code_word
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


_REQUEST_HEADERS = (
    N_("Request"),
    N_("Kind"),
    N_("Case"),
    N_("To"),
    N_("Status"),
    N_("Sent"),
    N_("Receipt"),
    N_("Acknowledgement"),
    N_("Closed"),
)


def requests_table(lines: list[RequestLine], title: str | None = None) -> Table:
    caption = _("times in UTC; +s after sending; closed: the request takes nothing more")
    table = Table(title=title or _("Requests"), header_style="bold", caption=caption)
    for i, name in enumerate(_REQUEST_HEADERS):
        table.add_column(_(name), no_wrap=i in (0, 4, 5))
    for line in lines:
        style = _STATUS_STYLE.get(line.status, "")
        urgent = f" [bold red]({code_word('urgent')})[/]" if line.urgency == "urgent" else ""
        status = str(code_word(line.status))
        table.add_row(
            line.request_id[-6:],
            f"{code_word(line.kind)}{urgent}",
            line.case_ref or "-",
            institution(line.recipient),
            f"[{style}]{status}[/]" if style else status,
            _clock(line.sent_at),
            _after(line.delivered_at, line.sent_at),
            _after(line.acknowledged_at, line.sent_at),
            _after(line.closed_at, line.sent_at) if line.closed_at else "-",
        )
    return table


def timeline_table(lines: list[TimelineLine], title: str | None = None) -> Table:
    table = Table(title=title or _("What crossed the bus"), header_style="bold")
    for name in (N_("Seq."), N_("Recorded"), N_("From"), N_("Message"), N_("Request")):
        table.add_column(_(name))
    for line in lines:
        table.add_row(
            str(line.stream_seq),
            line.recorded_at.strftime("%H:%M:%S.%f")[:-3],
            institution(line.source),
            str(code_word(line.type)),
            line.thread_id[-6:],
        )
    return table


_ESCALATION_HEADERS = (
    N_("Rung"),
    N_("Owed by"),
    N_("Clock"),
    N_("Told"),
    N_("Fired"),
    N_("Board session"),
)


def escalation_table(lines: list[EscalationLine], title: str | None = None) -> Table:
    caption = _("+s: after the deadline")
    table = Table(title=title or _("Escalations"), header_style="bold", caption=caption)
    for name in _ESCALATION_HEADERS:
        table.add_column(_(name))
    for line in lines:
        table.add_row(
            str(code_word(line.level)),
            institution(line.agency),
            str(code_word(line.clock)),
            institution(line.to_agency),
            _after(line.fired_at, line.due_at),
            line.board_session_id or "-",
        )
    return table
