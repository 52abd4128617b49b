"""``mechbus send``: publish one request to an agency, or a recall or update of one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.iachr import IachrOpt, mc_number, warn_if_elsewhere
from adapters.cli.options import CaseOpt, HomeOpt, LedgerOpt, NatsOpt, ToOpt, UrgentOpt
from adapters.i18n import _
from schemas.measures import MeasureKind

if TYPE_CHECKING:
    from schemas.envelope import Envelope

app = typer.Typer(help="Publish one request to an agency.", no_args_is_help=True)


def publish_new(
    cls: type[Envelope], fields: dict[str, object], home: Path | None, nats_url: str | None
) -> None:
    """Validate a message the Mechanism starts and publish it (nothing is sent if invalid)."""
    from pydantic import ValidationError

    try:
        message = cls.model_validate(fields)
    except ValidationError as exc:
        raise common.refuse(exc) from None
    common.publish(common.settings(home, nats_url), message)


def send_request(
    cls: type[Envelope],
    to: list[str],
    case: str,
    urgent: bool,
    data: Mapping[str, object],
    home: Path | None,
    nats_url: str | None,
) -> None:
    fields = {
        "source": "fed.mechanism",
        "time": datetime.now(UTC),
        "subject": case,
        "recipients": tuple(to),
        "urgency": "urgent" if urgent else "ordinary",
        "data": data,
    }
    publish_new(cls, fields, home, nats_url)


def _linked(iachr: str, states: set[str], home: Path | None, nats_url: str | None) -> str:
    """The MC number the request names, checked (exit 2) and compared with the ledger."""
    measure = mc_number(iachr, "--iachr")
    warn_if_elsewhere(measure, states, home, nats_url)
    return measure


@app.command("protection-measure")
def send_protection_measure(
    to: ToOpt,
    case: CaseOpt,
    state: Annotated[str, typer.Option(help="ISO 3166-2:MX state code, e.g. GRO.")],
    instructions: Annotated[str, typer.Option(help="What the agency must do.")],
    measure: Annotated[list[MeasureKind], typer.Option(help="Measure kind (repeatable).")],
    role: Annotated[
        str, typer.Option(help="journalist | defender | relative | organisation")
    ] = "defender",
    iachr: IachrOpt = None,
    urgent: UrgentOpt = False,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask a state government to implement protection measures."""
    from schemas.requests import ProtectionMeasureRequest

    data: dict[str, object] = {
        "measures": measure,
        "beneficiary_role": role,
        "state": state,
        "instructions": instructions,
    }
    if iachr is not None:
        data["iachr_precautionary_measure"] = _linked(iachr, {state.upper()}, home, nats_url)
    send_request(ProtectionMeasureRequest, to, case, urgent, data, home, nats_url)


@app.command("investigation")
def send_investigation(
    to: ToOpt,
    case: CaseOpt,
    aggression: Annotated[str, typer.Option(help="The aggression to investigate.")],
    facts: Annotated[str, typer.Option(help="Summary of the facts (no names).")],
    step: Annotated[list[str] | None, typer.Option(help="Step requested (repeatable).")] = None,
    iachr: IachrOpt = None,
    urgent: UrgentOpt = False,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask a state prosecutor to investigate an aggression."""
    from schemas.registry import active_registry
    from schemas.requests import InvestigationRequest

    data: dict[str, object] = {
        "aggression": aggression,
        "facts_summary": facts,
        "steps_requested": step or [],
    }
    if iachr is not None:
        registry = active_registry()
        states = {s for a in to if a in registry and (s := registry[a].state)}
        data["iachr_precautionary_measure"] = _linked(iachr, states, home, nats_url)
    send_request(InvestigationRequest, to, case, urgent, data, home, nats_url)


@app.command("information")
def send_information(
    to: ToOpt,
    case: CaseOpt,
    question: Annotated[str, typer.Option(help="What the Mechanism needs to know.")],
    urgent: UrgentOpt = False,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask an agency for information."""
    from schemas.requests import InformationRequest

    data = {"question": question}
    send_request(InformationRequest, to, case, urgent, data, home, nats_url)


def _follow_up(
    cls: type[Envelope],
    request_id: str,
    data: dict[str, object],
    home: Path | None,
    nats_url: str | None,
    ledger_url: str | None,
) -> None:
    """A recall or update of an earlier request, to every recipient still concerned."""
    from pydantic import ValidationError

    from adapters.readmodel.requests import request_lines

    settings = common.settings(home, nats_url, ledger_url)
    lines = common.query(settings, lambda session: request_lines(session, request_ids=[request_id]))
    if not lines:
        said = _("no request {id} in the ledger").format(id=request_id)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    concerned = [line.recipient for line in lines if line.status not in ("declined", "cancelled")]
    if not concerned:
        said = _("request {id} has no recipient left to tell").format(id=request_id)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    fields = {
        "source": "fed.mechanism",
        "time": datetime.now(UTC),
        "subject": lines[0].case_ref,
        "recipients": tuple(concerned),
        "correlation_id": request_id,
        "causation_id": request_id,
        "data": data,
    }
    try:
        message = cls.model_validate(fields)
    except ValidationError as exc:
        raise common.refuse(exc) from None
    common.publish(settings, message)


@app.command("recall")
def send_recall(
    request_id: Annotated[str, typer.Argument(help="The request to recall.")],
    reason: Annotated[str, typer.Option(help="Why it is recalled.")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Recall (cancel) a request for every recipient that has not declined it."""
    from schemas.requests import RequestRecall

    _follow_up(RequestRecall, request_id, {"reason": reason}, home, nats_url, ledger_url)


@app.command("update")
def send_update(
    request_id: Annotated[str, typer.Argument(help="The request to update.")],
    changes: Annotated[str, typer.Option(help="What changed.")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Tell the recipients of a request what changed in it."""
    from schemas.requests import RequestUpdate

    _follow_up(RequestUpdate, request_id, {"changes": changes}, home, nats_url, ledger_url)


@app.command("file")
def send_file(
    path: Annotated[Path, typer.Argument(help="A JSON file holding one v1 message.", exists=True)],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Publish a message written as JSON (validated against the contract first)."""
    from pydantic import ValidationError

    from schemas.messages import parse_message

    try:
        message = parse_message(path.read_bytes())
    except ValidationError as exc:
        raise common.refuse(exc) from None
    common.publish(common.settings(home, nats_url), message)
