"""Relocations: ``mechbus relocate`` asks the shelters that can take the people, ``mechbus
placements`` lists where each stands and confirms one shelter's offer."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli import common
from adapters.cli.common import Listing, console, listing
from adapters.cli.options import (
    CaseOpt,
    HomeOpt,
    LedgerOpt,
    MaxAgeOpt,
    NatsOpt,
    UrgentOpt,
)
from adapters.cli.send import send_request
from adapters.i18n import _
from adapters.readmodel.record_columns import PLACEMENTS_CLI

if TYPE_CHECKING:
    from adapters.service.actions import Placed

app = typer.Typer(help="Relocations and their placements.", invoke_without_command=True)


def relocate(
    case: CaseOpt,
    people: Annotated[int, typer.Option(help="How many people must move.")],
    origin_state: Annotated[str, typer.Option(help="State they leave (only the state is told).")],
    earliest: Annotated[str, typer.Option(help="Earliest date, YYYY-MM-DD.")],
    days: Annotated[int, typer.Option(help="Expected stay in days.")],
    children: Annotated[int, typer.Option(help="How many of them are children.")] = 0,
    need: Annotated[list[str] | None, typer.Option(help="A need (repeatable).")] = None,
    region: Annotated[list[str] | None, typer.Option(help="Preferred region (repeatable).")] = None,
    accessible: Annotated[bool, typer.Option(help="Accessibility required.")] = False,
    shelter: Annotated[list[str] | None, typer.Option(help="Ask these shelters only.")] = None,
    urgent: UrgentOpt = False,
    max_age_hours: MaxAgeOpt = 24.0,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Ask the shelters that can take them for a placement (no names are sent)."""
    from pydantic import ValidationError

    from adapters.ledger.aggressors import named_on
    from adapters.readmodel import references as refs
    from adapters.readmodel.placements import shelters
    from bus.domain.capacity import matching, mismatch
    from schemas.requests import RelocationBody, RelocationRequest

    case = common.resolved("--case", case, refs.case_number) or case
    origin_state = common.resolved("--origin-state", origin_state, refs.state) or origin_state
    shelter = [common.resolved("--shelter", one, refs.agency) or one for one in shelter or []]
    try:
        earliest_day = date.fromisoformat(earliest)
    except ValueError:
        said = _("--earliest: {value!r} is not a date like 2026-12-01").format(value=earliest)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2) from None
    data: dict[str, object] = {
        "people": people,
        "adults": people - children,
        "children": children,
        "needs": need or [],
        "origin_state": origin_state,
        "earliest": earliest_day,
        "expected_days": days,
        "accessibility_required": accessible,
        "preferred_regions": region or [],
    }
    try:
        body = RelocationBody.model_validate(data)
    except ValidationError as exc:
        raise common.refuse(exc) from None
    settings = common.settings(home, nats_url, ledger_url)
    known = common.query(settings, shelters)
    now = datetime.now(UTC)
    if shelter:
        chosen = list(shelter)
    else:
        max_age = timedelta(hours=max_age_hours)
        chosen = [c.shelter for c in matching(known, body, now, max_age)]
        for c in known:
            why = mismatch(c, body, now, max_age)
            if why:
                said = _("{shelter} not asked: {why}").format(shelter=c.shelter, why=why)
                console.print(f"[dim]{said}[/]")
        named = common.query(settings, lambda session: named_on(session, case))
        for barred in [c for c in chosen if c in named]:
            said = _("{shelter} not asked: presumed aggressor on case {case}")
            console.print(f"[dim]{said.format(shelter=barred, case=case)}[/]")
        chosen = [c for c in chosen if c not in named]
    if not chosen:
        said = _("no shelter can take this relocation now")
        console.print(f"[red]{said}[/]")
        raise typer.Exit(1)
    console.print(_("asking {shelters}").format(shelters=", ".join(chosen)))
    send_request(RelocationRequest, chosen, case, urgent, data, home, nats_url)


@app.callback()
@listing
def placements_list(
    ctx: typer.Context,
    *,
    view: Listing,
) -> None:
    """List relocations, one row per shelter asked, with where each stands."""
    if ctx.invoked_subcommand is not None:
        return
    from adapters.readmodel.placements import placements

    page = view.page
    rows = view.query(lambda session: placements(session, page.fetch, page.offset))
    view.show(rows, PLACEMENTS_CLI, _("Relocations and placements"))


@app.command("confirm")
def placements_confirm(
    request_id: Annotated[
        str, typer.Argument(help="The relocation request (its id, or 6 characters of it).")
    ],
    shelter: Annotated[str, typer.Option(help="The shelter whose offer is taken.")],
    details: Annotated[
        Path | None,
        typer.Option(help="JSON list of the people's details, for the confirmed shelter only."),
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the hub to record or refuse it.")
    ] = 30.0,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Confirm one shelter's offer. The hub records it, then sends that shelter the details
    and releases the other offers. Exit 0 placed, 1 refused, 3 not recorded yet."""
    from pydantic import ValidationError

    from adapters.readmodel.references import request_id as whole_id
    from adapters.service import actions

    settings = common.settings(home, nats_url, ledger_url)
    request_id, relocation = common.query(
        settings,
        lambda session: (
            found := whole_id(session, request_id),  # or six characters of its start or end
            actions.load_relocation(session, found),
        ),
    )
    if relocation is None:
        said = _("no relocation {id} in the ledger").format(id=request_id)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    personal = json.loads(details.read_text(encoding="utf-8")) if details else []
    try:
        with common.publishing():
            placed = asyncio.run(
                actions.confirm_placement(settings, relocation, shelter, personal, wait)
            )
    except actions.Unplaceable as exc:
        said = _("not confirmed, nothing was sent: {reason}").format(reason=exc)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(1) from None
    except ValidationError as exc:
        raise common.refuse(exc) from None
    _say_placed(placed, request_id, shelter)


def _say_placed(placed: Placed, request_id: str, shelter: str) -> None:
    if placed.recorded:
        said = _(
            "placed: the hub recorded {message}; {shelter} receives the details for {id} and "
            "the other offers are released"
        )
        console.print(said.format(message=placed.message.id, shelter=shelter, id=request_id))
    elif placed.refused is not None:
        said = _("refused by the hub, nothing was sent to {shelter}: {reason}")
        console.print(f"[red]{said.format(shelter=shelter, reason=placed.refused)}[/]")
        raise typer.Exit(1)
    else:
        why = placed.kept_because or _("the hub has not recorded it in time")
        said = _(
            "{message} not recorded yet ({why}): `mechbus placements` shows when the hub has "
            "placed or refused it"
        )
        console.print(f"[yellow]{said.format(message=placed.message.id, why=why)}[/]")
        raise typer.Exit(3)
