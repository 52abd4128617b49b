"""The options many ``mechbus`` commands share, declared once (``Annotated`` aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters.observability.logs import LogFormat, LogLevel

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="State directory (default: $MECHBUS_HOME or the user data dir)."),
]
NatsOpt = Annotated[
    str | None, typer.Option("--nats-url", help="Use this NATS server instead of the embedded one.")
]
LedgerOpt = Annotated[
    str | None,
    typer.Option("--ledger-url", help="SQLAlchemy URL of the ledger (default: SQLite in home)."),
]
# ``mechbus db`` names the ledger it migrates with --url as well, and says where else it looks.
DbUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        "--ledger-url",
        help="SQLAlchemy URL of the ledger (default: $MECHBUS_LEDGER_URL, else SQLite in home).",
    ),
]
# The bridge's own wording of the same two options, kept as its users read them.
BridgeNatsOpt = Annotated[
    str | None, typer.Option("--nats-url", help="NATS (default: `mechbus up`'s).")
]
BridgeLedgerOpt = Annotated[
    str | None, typer.Option("--ledger-url", help="SQLAlchemy URL of the ledger.")
]

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV instead of a table.")]

# Every list view shows one page: --limit rows from --offset, or --all; a cut list says so.
LimitOpt = Annotated[int, typer.Option(min=1, help="At most this many rows (one page).")]
OffsetOpt = Annotated[int, typer.Option(min=0, help="Skip this many rows (the next page).")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every row, however many.")]

ToOpt = Annotated[list[str], typer.Option("--to", help="Recipient agency id, e.g. gro.government.")]
CaseOpt = Annotated[str, typer.Option("--case", help="Case reference, e.g. MPDDHP-2026-0412.")]
UrgentOpt = Annotated[bool, typer.Option("--urgent/--ordinary", help="Urgency of the request.")]
PolicyOpt = Annotated[Path | None, typer.Option(help="Deadline policy file (TOML).")]
MaxAgeOpt = Annotated[
    float, typer.Option("--max-age-hours", help="Capacity reports older than this are stale.")
]

# How a long-running process (up, bridge, dashboard, agency run) logs, on stderr.
LogFormatOpt = Annotated[
    LogFormat,
    typer.Option("--log-format", help="Log lines as text or JSON (one object a line), on stderr."),
]
LogLevelOpt = Annotated[LogLevel, typer.Option("--log-level", help="The least level logged.")]
TraceOpt = Annotated[
    str | None,
    typer.Option(
        "--trace",
        metavar="off|console|otlp",
        help="OpenTelemetry traces: off (the default), console, or otlp (the standard "
        "OTEL_EXPORTER_OTLP_* variables say where); also $MECHBUS_TRACE.",
    ),
]
