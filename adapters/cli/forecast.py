"""``mechbus forecast``: the caseload projection, in Spanish, from the ledger's own history."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import HomeOpt, LedgerOpt
from adapters.i18n import _
from bus.domain.forecast import DEFAULT_WEEKS, MAX_WEEKS, MIN_WEEKS

if TYPE_CHECKING:
    from bus.domain.forecast import Forecast

OfficersOpt = Annotated[
    int | None,
    typer.Option(
        "--officers",
        min=1,
        help="Staff count to divide the load by (default: $MECHBUS_OFFICERS; one of them "
        "is needed).",
    ),
]
JsonDocOpt = Annotated[
    bool, typer.Option("--json", help="One JSON document instead of the tables.")
]
FlatCsvOpt = Annotated[
    bool, typer.Option("--csv", help="CSV, one figure of one horizon a line, instead.")
]
WeeksOpt = Annotated[
    int,
    typer.Option(
        "--weeks-of-history",
        min=MIN_WEEKS,
        max=MAX_WEEKS,
        help=f"Complete weeks of the ledger to project from ({MIN_WEEKS} to {MAX_WEEKS}).",
    ),
]


def forecast(
    officers: OfficersOpt = None,
    weeks: WeeksOpt = DEFAULT_WEEKS,
    as_json: JsonDocOpt = False,
    as_csv: FlatCsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Project open cases and beneficiaries per officer 3, 6 and 12 months ahead."""
    from adapters.output import choose

    try:
        choose(as_json, as_csv)
    except ValueError as exc:
        raise common.fail(exc) from None
    chosen = common.settings(home, ledger_url=ledger_url)
    staff = officers if officers is not None else chosen.officers
    if staff is None:
        said = _(
            "How many officers? Give --officers N (a whole number, 1 or more) or set "
            "MECHBUS_OFFICERS."
        )
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    from adapters.readmodel.forecast import forecast_history
    from bus.domain.forecast import ForecastRefused
    from bus.domain.forecast import forecast as project

    now = datetime.now(UTC)
    history = common.query(chosen, lambda s: forecast_history(s, now=now, weeks=weeks))
    try:
        result = project(history, staff)
    except ForecastRefused:
        from adapters.readmodel.forecast_tables import TOO_SHORT

        console.print(f"[red]{_(TOO_SHORT) % {'low': MIN_WEEKS}}[/]")
        raise typer.Exit(1) from None
    source = "--officers" if officers is not None else "MECHBUS_OFFICERS"
    if as_json:
        from adapters.readmodel.forecast_tables import as_json as document

        print(json.dumps(document(result), ensure_ascii=False))
    elif as_csv:
        from adapters.readmodel.forecast_tables import csv_text

        sys.stdout.write(csv_text(result))
    else:
        _tables(result, source)


def _tables(result: Forecast, source: str) -> None:
    from rich.table import Table

    from adapters.readmodel import forecast_tables as t

    console.print(f"[bold]{_(t.TITLE)}[/]")
    console.print(_(t.NOT_A_PREDICTION))
    console.print(
        _(t.HISTORY_LINE)
        % {
            "weeks": result.weeks_of_history,
            "intake": result.weekly_intake,
            "closure": 100 * result.weekly_closure_rate,
            "open": result.open_now,
        }
    )
    console.print(
        _(t.OFFICERS_LINE)
        % {"officers": result.officers, "source": source, "now": result.per_officer_now}
    )
    for horizon in result.horizons:
        title = _(t.HORIZON_TITLE) % {
            "months": horizon.months,
            "until": horizon.until.date().isoformat(),
        }
        table = Table(title=title, title_justify="left")
        table.add_column(_(t.FIGURE))
        for header in t.HEADERS:
            table.add_column(_(header), justify="right")
        for row in t.horizon_rows(horizon):
            digits = 1 if row.figure == "per_officer" else 0
            i = row.interval
            table.add_row(_(row.label), *(f"{v:.{digits}f}" for v in (i.low, i.mid, i.high)))
        console.print(table)
    table = Table(title=_(t.STATES_TITLE), title_justify="left")
    table.add_column(_(t.STATE))
    table.add_column(_(t.UNANSWERED), justify="right")
    for horizon in result.horizons:
        table.add_column(_(t.MONTHS) % {"months": horizon.months}, justify="right")
    for line in t.state_lines(result):
        table.add_row(
            line.name,
            f"{line.unanswered_pct:.1f}",
            *(t.interval_text(i) for i in line.open_requests),
        )
    console.print(table)
    table = Table(title=_(t.SILENCE_TITLE), title_justify="left")
    for header in (t.STATE, t.UNANSWERED, t.EXPECTED_OPEN, t.ADDS):
        table.add_column(_(header), justify="left" if header == t.STATE else "right")
    for s in result.silence:
        table.add_row(
            t.name_of(s.state),
            f"{100 * s.unanswered_share:.1f}",
            f"{s.expected_open_cases:.0f}",
            f"{s.per_officer_change:+.2f}",
        )
    console.print(table)
