"""``mechbus iachr``: IACHR precautionary measures (MC numbers) with their grant and notice dates,
and the checks ``mechbus send --iachr`` makes before a request names one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from adapters.cli import common
from adapters.cli.common import Listing, console, listing, state_code
from adapters.cli.options import HomeOpt, NatsOpt
from adapters.i18n import _

app = typer.Typer(
    help="IACHR precautionary measures (MC numbers): their grant and notice dates.",
    no_args_is_help=True,
)

IachrOpt = Annotated[
    str | None,
    typer.Option(
        "--iachr",
        help="The IACHR precautionary measure these measures also implement, e.g. MC-123-24.",
    ),
]


def mc_number(value: str, option: str = "MC number") -> str:
    """``value`` as an MC number (upper case), or exit 2 saying the format."""
    from schemas.iachr import MC_FORMAT, is_mc, normalise_mc

    if not is_mc(value):
        said = _("{option}: {value!r} is not an MC number; write {format}")
        console.print(f"[red]{said.format(option=option, value=value, format=MC_FORMAT)}[/]")
        raise typer.Exit(2)
    return str(normalise_mc(value))


def warn_if_elsewhere(
    measure: str, states: set[str], home: Path | None, nats_url: str | None
) -> None:
    """A line when the MC is registered in another state than the request's (never a refusal),
    or not registered yet. A ledger that cannot be read gives no line: sending does not need it."""
    from adapters.readmodel.iachr import UNREGISTERED, iachr_measure
    from adapters.service import compose
    from bus.domain.errors import LedgerError
    from bus.domain.iachr import state_warning

    try:
        ledger = compose.open_ledger(common.settings(home, nats_url))
    except LedgerError:
        return
    try:
        with ledger.session() as session:
            registered = iachr_measure(session, measure)
    finally:
        ledger.close()
    if registered is None:
        said = _(
            "{measure} is not registered yet: the agenda shows it as '{unregistered}' until "
            "`mechbus iachr register {measure}`"
        )
        console.print(f"[yellow]{said.format(measure=measure, unregistered=_(UNREGISTERED))}[/]")
    for state in sorted(states):
        warning = state_warning(measure, state, registered)
        if warning:
            said = _("warning: {warning}").format(warning=warning)
            console.print(f"[yellow]{said}[/]")


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        said = _("{option}: {value!r} is not a date; write YYYY-MM-DD")
        console.print(f"[red]{said.format(option=option, value=value)}[/]")
        raise typer.Exit(2) from None


@app.command("register")
def iachr_register(
    measure: Annotated[str, typer.Argument(help="The MC number, e.g. MC-123-24.")],
    granted: Annotated[str, typer.Option(help="When the IACHR granted it, YYYY-MM-DD.")],
    notified: Annotated[
        str, typer.Option(help="When the SRE notified SEGOB, YYYY-MM-DD (the clocks start here).")
    ],
    state: Annotated[str, typer.Option(help="ISO 3166-2:MX state code, e.g. GRO.")],
    beneficiaries: Annotated[int, typer.Option(min=1, help="How many people it protects.")] = 1,
    case: Annotated[
        str | None, typer.Option("--case", help="The Mechanism's case for the same people.")
    ] = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Record an IACHR precautionary measure's dates (again for the same MC: corrects them)."""
    from adapters.cli.send import publish_new
    from bus.domain.iachr import date_problem
    from schemas.iachr import IachrMeasureRegistered

    number = mc_number(measure)
    granted_on, notified_on = _day(granted, "--granted"), _day(notified, "--notified")
    problem = date_problem(granted_on, notified_on, datetime.now(UTC).date())
    if problem is not None:
        console.print(f"[red]{problem}[/]")
        raise typer.Exit(2)
    data = {
        "measure": number,
        "granted_on": granted_on,
        "notified_on": notified_on,
        "state": state_code(state, "--state"),
        "beneficiaries": beneficiaries,
        "case_ref": case,
    }
    fields = {"source": "fed.mechanism", "time": datetime.now(UTC), "subject": case, "data": data}
    publish_new(IachrMeasureRegistered, fields, home, nats_url)


@app.command("list")
@listing
def iachr_list(
    state: Annotated[str | None, typer.Option(help="Only this state, e.g. GRO.")] = None,
    *,
    view: Listing,
) -> None:
    """The registered MCs, most recently notified first."""
    from adapters.readmodel.iachr import MEASURES_CLI, iachr_measures

    page = view.page
    only = state_code(state, "--state") if state else None
    rows = view.query(lambda session: iachr_measures(session, only, page.fetch, page.offset))
    view.show(rows, MEASURES_CLI, _("IACHR precautionary measures"))
