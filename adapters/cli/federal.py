"""``mechbus federal``: the Mechanism's own obligations: say what its units did on a case (the
request for incorporation received, urgent measures issued, the risk study delivered), and
list what they owe and how they kept their clocks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli.common import Listing, aware_time, console, listing, state_code
from adapters.cli.options import HomeOpt, NatsOpt, PolicyOpt
from adapters.cli.send import publish_new
from adapters.i18n import _
from adapters.readmodel.figure_columns import FEDERAL_CLI, FEDERAL_SCORES_CLI
from schemas.measures import MeasureKind

if TYPE_CHECKING:
    from schemas.envelope import Envelope

app = typer.Typer(
    help="The Mechanism's own obligations (LPPDDHP arts. 26, 27, 29): report them, list them.",
    no_args_is_help=True,
)

CaseArg = Annotated[str, typer.Argument(help="Case number, e.g. MPDDHP-2026-0412.")]
AtOpt = Annotated[str | None, typer.Option(help="When, ISO 8601 with time zone (default: now).")]


def case_number(value: str) -> str:
    """The case number in its canonical form (upper case), or exit 2 saying what one looks
    like."""
    from adapters.cli.common import resolved
    from adapters.readmodel.references import case_number as canonical

    found = resolved("CASE", value, canonical)
    assert found is not None
    return found


def federal_unit(value: str, *, kinds: tuple[str, ...] = ("federal",)) -> str:
    """A unit of the Mechanism from the registry, or exit 2 listing them."""
    from schemas.registry import active_registry

    units = sorted(a.id for a in active_registry() if a.kind.value in kinds)
    if value not in units:
        said = _("{value!r} is not a unit of the Mechanism: one of {units}")
        console.print(f"[red]{said.format(value=value, units=', '.join(units))}[/]")
        raise typer.Exit(2)
    return value


def send_on_case(
    cls: type[Envelope],
    case: str,
    unit: str,
    data: dict[str, object],
    home: HomeOpt,
    nats_url: NatsOpt,
    urgent: bool = False,
) -> None:
    fields = {
        "source": federal_unit(unit, kinds=("federal", "board")),
        "time": datetime.now(UTC),
        "subject": case_number(case),
        "urgency": "urgent" if urgent else "ordinary",
        "data": data,
    }
    publish_new(cls, fields, home, nats_url)


@app.command("incorporation")
def incorporation(
    case: CaseArg,
    state: Annotated[str, typer.Option(help="State code of the person at risk, e.g. GRO.")],
    urgent: Annotated[
        bool,
        typer.Option(
            "--urgent/--ordinary",
            help="Extraordinary procedure (urgent: 3 h to issue measures) or ordinary.",
        ),
    ] = False,
    received_at: Annotated[
        str | None, typer.Option(help="When the Mechanism received it (default: now).")
    ] = None,
    unit: Annotated[str, typer.Option(help="The unit reporting it.")] = "fed.reception",
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """A request for incorporation received: starts the Mechanism's clocks on the case."""
    from schemas.federal import IncorporationReceived

    data: dict[str, object] = {
        "state": state_code(state, "--state"),
        "received_at": aware_time(received_at, "--received-at"),
    }
    send_on_case(IncorporationReceived, case, unit, data, home, nats_url, urgent)


@app.command("measures-issued")
def measures_issued(
    case: CaseArg,
    measure: Annotated[list[MeasureKind], typer.Option(help="Measure kind issued (repeatable).")],
    unit: Annotated[str, typer.Option(help="The unit reporting it.")] = "fed.mechanism",
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """The urgent protection measures were issued (art. 26 fr. I)."""
    from schemas.federal import UrgentMeasuresIssued

    data: dict[str, object] = {"measures": [m.value for m in measure]}
    send_on_case(UrgentMeasuresIssued, case, unit, data, home, nats_url, urgent=True)


@app.command("risk-study")
def risk_study(
    case: CaseArg,
    study: Annotated[str, typer.Option(help="The study's reference, e.g. EER-2026-0412.")],
    unit: Annotated[str, typer.Option(help="The unit reporting it.")] = "fed.risk",
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """The risk study was delivered (art. 26 fr. III; art. 27)."""
    from schemas.federal import RiskStudyDelivered

    send_on_case(RiskStudyDelivered, case, unit, {"study_id": study}, home, nats_url)


@app.command("list")
@listing
def federal_list(
    unit: Annotated[str | None, typer.Option(help="Only this unit, e.g. fed.reception.")] = None,
    everything: Annotated[
        bool, typer.Option("--met", help="Include those already met (on time or late).")
    ] = False,
    policy: PolicyOpt = None,
    *,
    view: Listing,
) -> None:
    """The Mechanism's open obligations, most overdue first, with their clock and basis."""
    from adapters.cli import common
    from adapters.readmodel.federal import federal_lines

    if unit is not None:
        federal_unit(unit, kinds=("federal", "board"))
    rules, now, page = common.policy(policy), datetime.now(UTC), view.page
    rows = view.query(
        lambda session: federal_lines(
            session,
            now,
            rules,
            unit=unit,
            everything=everything,
            limit=page.fetch,
            offset=page.offset,
        )
    )
    view.show(
        rows,
        FEDERAL_CLI,
        _("The Mechanism's own obligations, most overdue first"),
        _("Overdue below zero: still within the deadline"),
    )


@app.command("scorecard")
@listing
def federal_scorecard(
    month: Annotated[str | None, typer.Option(help="YYYY-MM; default: all time.")] = None,
    *,
    view: Listing,
) -> None:
    """Per unit of the Mechanism: obligations started, met on time, late, open, overdue."""
    from adapters.cli import common
    from adapters.readmodel.federal import federal_scores

    since, asof = common.month_window(month)
    scores = view.query(lambda session: federal_scores(session, asof=asof, since=since))
    view.show(
        scores[view.page.offset :],
        FEDERAL_SCORES_CLI,
        _("The Mechanism's own clocks by unit ({period})").format(period=month or _("all time")),
    )
