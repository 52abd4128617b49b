"""``mechbus board``: the Governing Board's sessions, attendance and agenda."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from adapters.cli.common import Listing, aware_time, console, listing
from adapters.cli.options import (
    HomeOpt,
    NatsOpt,
)
from adapters.cli.send import publish_new
from adapters.i18n import _
from adapters.readmodel.record_columns import BOARD_CLI, BOARD_DATA

app = typer.Typer(help="The Governing Board: sessions, agenda, attendance.", no_args_is_help=True)


@app.command("schedule")
def board_schedule(
    session_id: Annotated[str, typer.Argument(help="Session id, e.g. JG-2026-04.")],
    at: Annotated[str, typer.Option(help="When, ISO 8601 with time zone.")],
    venue: Annotated[str, typer.Option(help="Where.")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Schedule a Board session; overdue cases are placed on the next one's agenda."""
    from schemas.tracking import BoardSessionScheduled

    fields = {
        "source": "fed.board",
        "time": datetime.now(UTC),
        "data": {"session_id": session_id, "scheduled_at": aware_time(at, "--at"), "venue": venue},
    }
    publish_new(BoardSessionScheduled, fields, home, nats_url)


@app.command("attendance")
def board_attendance(
    session_id: Annotated[str, typer.Argument(help="Session id.")],
    agency: Annotated[str, typer.Argument(help="The summoned agency.")],
    attended: Annotated[bool, typer.Option("--attended/--absent", help="Did it attend?")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Record whether a summoned authority attended (counts on the scorecard)."""
    from adapters.cli.common import resolved
    from adapters.readmodel.references import agency as known_agency
    from schemas.tracking import BoardAttendance

    agency = resolved("AGENCY", agency, known_agency) or agency
    fields = {
        "source": "fed.board",
        "time": datetime.now(UTC),
        "data": {"session_id": session_id, "agency": agency, "attended": attended},
    }
    publish_new(BoardAttendance, fields, home, nats_url)


RECORDING_UNIT = "Unidad de Recepción de Casos y Reacción Rápida"


@app.command("consent")
def board_consent(
    case: Annotated[str, typer.Argument(help="The case number, e.g. MPDDHP-2026-0412.")],
    given: Annotated[
        bool, typer.Option("--given/--withdrawn", help="Consent given, or withdrawn.")
    ],
    agency: Annotated[
        list[str] | None,
        typer.Option(help="A state authority it covers (repeatable; default: all of them)."),
    ] = None,
    recorded_by: Annotated[
        str, typer.Option(help="The official role recording it (never a person's name).")
    ] = RECORDING_UNIT,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Record the beneficiary's consent to invite state authorities to a Board session about
    their case (LPPDDHP art. 8): without it the Board's agenda invites no one."""
    from adapters.cli.common import resolved
    from adapters.cli.federal import case_number
    from adapters.readmodel.references import agency as known_agency
    from schemas.registry import active_registry
    from schemas.tracking import BoardConsent

    case = case_number(case)
    agency = [resolved("--agency", one, known_agency) or one for one in agency or []]
    registry = active_registry()
    for one in agency:
        if one not in registry or registry[one].state is None:
            said = _("--agency: {agency!r} is not a state authority in the registry")
            console.print(f"[red]{said.format(agency=one)}[/]")
            raise typer.Exit(2)
    fields = {
        "source": "fed.mechanism",
        "time": datetime.now(UTC),
        "subject": case,
        "data": {"given": given, "agencies": agency or [], "recorded_by": recorded_by},
    }
    publish_new(BoardConsent, fields, home, nats_url)


@app.command("agenda")
@listing
def board_agenda(
    session_id: Annotated[
        str | None, typer.Argument(help="Session id (default: every item on an agenda).")
    ] = None,
    *,
    session: Annotated[str | None, typer.Option("--session", help="Session id.")] = None,
    view: Listing,
) -> None:
    """What the ladder placed on the Board's agenda: the case, the state, the institution,
    the official invited (only with the beneficiary's consent), what is owed and for how long,
    and the items carried over from a session that passed with them unresolved."""
    from adapters import environment
    from adapters.readmodel.board import agenda, session_ids

    chosen = session or session_id
    cutoff = environment.policy().board_cutoff()
    now = datetime.now(UTC)
    page = view.page
    if chosen is not None:
        known = view.query(session_ids)
        if chosen not in known:
            listed = ", ".join(known) or _("none yet (`mechbus board schedule`)")
            said = _("no Board session {session!r} is scheduled; scheduled: {listed}")
            console.print(f"[red]{said.format(session=chosen, listed=listed)}[/]")
            raise typer.Exit(2)
    rows = view.query(lambda s: agenda(s, now, cutoff, chosen, page.fetch, page.offset))
    table = BOARD_DATA if view.as_json or view.as_csv else BOARD_CLI
    view.show(rows, table, _("Governing Board agenda"))


@app.command("decision")
def board_decision(
    case: Annotated[str, typer.Argument(help="Case number, e.g. MPDDHP-2026-0412.")],
    session: Annotated[str, typer.Option(help="The session that decided, e.g. JG-2026-04.")],
    agency: Annotated[
        list[str], typer.Option(help="An agency that implements the decision (repeatable).")
    ],
    decision: Annotated[
        str | None, typer.Option(help="The decision's id (default: <session>-<case>).")
    ] = None,
    decided_at: Annotated[
        str | None, typer.Option(help="When, ISO 8601 with time zone (default: now).")
    ] = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """A Board decision on a case: the Executive Coordination has 72 hours to communicate it."""
    from adapters.cli.federal import case_number
    from schemas.federal import BoardDecisionTaken
    from schemas.registry import active_registry

    case = case_number(case)
    registry = active_registry()
    unknown = [a for a in agency if a not in registry]
    if unknown:
        said = _(
            "--agency: {agencies} not in the agency registry "
            "(ids like gro.government, as schemas/data/agencies.toml lists them)"
        )
        console.print(f"[red]{said.format(agencies=', '.join(unknown))}[/]")
        raise typer.Exit(2)
    fields = {
        "source": "fed.board",
        "time": datetime.now(UTC),
        "subject": case,
        "data": {
            "decision_id": decision or f"{session}-{case.replace('/', '-')}"[:64],
            "session_id": session,
            "decided_at": aware_time(decided_at, "--decided-at"),
            "agencies": agency,
        },
    }
    publish_new(BoardDecisionTaken, fields, home, nats_url)
