"""``mechbus aggressor``: name an agency presumed aggressor on a case, or lift it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import HomeOpt, NatsOpt
from adapters.i18n import _


def aggressor(
    case: Annotated[str, typer.Argument(help="Case reference, e.g. MPDDHP-2026-0412.")],
    agency: Annotated[str, typer.Argument(help="The agency's id, e.g. gro.police.")],
    role: Annotated[
        str, typer.Option("--role", help="The official role that decided it (no names).")
    ],
    lift: Annotated[bool, typer.Option("--lift", help="Lift the flag instead.")] = False,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Name AGENCY presumed aggressor on CASE: from then on nothing of the case is sent to it
    (the Mechanism's sends are refused, the hub refuses and redirects). The agency is not
    told. --lift ends it."""
    from pydantic import ValidationError

    from adapters.ledger.aggressors import named_on
    from adapters.readmodel import references as refs
    from schemas.registry import active_registry
    from schemas.tracking import AggressorAction, PresumedAggressor

    case = common.resolved("CASE", case, refs.case_number) or case
    agency = common.resolved("AGENCY", agency, refs.agency) or agency
    record = active_registry().get(agency)
    if record is None or record.is_federal:
        said = (
            _("{agency} is not in the agency registry: name a state or local agency")
            if record is None
            else _("{agency} is a federal agency: name a state or local agency")
        )
        console.print(f"[red]{said.format(agency=agency)}[/]")
        raise typer.Exit(2)
    chosen = common.settings(home, nats_url)
    named = agency in common.query(chosen, lambda session: named_on(session, case))
    if named != lift:
        said = (
            _("{agency} is already named presumed aggressor on case {case}")
            if named
            else _("{agency} is not named presumed aggressor on case {case}")
        )
        console.print(f"[red]{said.format(agency=agency, case=case)}[/]")
        raise typer.Exit(2)
    try:
        message = PresumedAggressor.model_validate(
            {
                "source": "fed.mechanism",
                "time": datetime.now(UTC),
                "subject": case,
                "data": {
                    "agency": agency,
                    "action": AggressorAction.LIFTED if lift else AggressorAction.SET,
                    "official_role": role,
                },
            }
        )
    except ValidationError as exc:
        raise common.refuse(exc) from None
    common.publish(chosen, message)
