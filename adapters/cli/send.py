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
from adapters.cli.options import (
    CaseOpt,
    HomeOpt,
    LedgerOpt,
    NatsOpt,
    ToOpt,
    TraceOpt,
    UrgentOpt,
)
from adapters.i18n import _
from schemas.measures import MeasureKind

if TYPE_CHECKING:
    from sqlmodel import Session

    from schemas.envelope import Envelope

app = typer.Typer(help="Publish one request to an agency.", no_args_is_help=True)


@app.callback()
def _tracing(ctx: typer.Context, trace: TraceOpt = None) -> None:
    # The hub's records of the message and of every answer to it continue the send's trace.
    ctx.with_resource(common.observed("mechbus-send", trace))


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Send although the recipient's kind or state, or --implement-by, breaks the "
        "rules; needs --reason.",
    ),
]
ReasonOpt = Annotated[
    str | None,
    typer.Option(
        "--reason", help="Why it is sent anyway (with --force); recorded with the request."
    ),
]
ImplementByOpt = Annotated[
    str | None,
    typer.Option(
        "--implement-by",
        help="By when the agency must implement: a day (2026-12-15, the end of that day in "
        "Mexico City) or a time with its zone; no later than the legal limit.",
    ),
]
MunicipalityOpt = Annotated[
    str | None, typer.Option(help='Municipality, e.g. "Chilpancingo de los Bravo".')
]


def publish_new(
    cls: type[Envelope],
    fields: dict[str, object],
    home: Path | None,
    nats_url: str | None,
    *,
    forceable: bool = False,
) -> None:
    """Validate a message the Mechanism starts and publish it (nothing is sent if invalid);
    ``forceable``: the command takes --force, so a refusal says how to send it anyway."""
    from pydantic import ValidationError

    try:
        message = cls.model_validate(fields)
    except ValidationError as exc:
        raise common.refuse(exc) from None
    common.publish(common.settings(home, nats_url), message, forceable=forceable)


def send_request(
    cls: type[Envelope],
    to: list[str],
    case: str,
    urgent: bool,
    data: Mapping[str, object],
    home: Path | None,
    nats_url: str | None,
    *,
    override: str | None = None,
    forceable: bool = False,
) -> None:
    """Publish a request of ``cls``; ``override``: the reason staff gave to send it against
    the addressing rules or the legal limit (recorded in its ``data.override_reason``)."""
    body = dict(data)
    if override is not None:
        body["override_reason"] = override
    fields = {
        "source": "fed.mechanism",
        "time": datetime.now(UTC),
        "subject": case.strip().upper(),  # case numbers are upper case, however typed
        "recipients": tuple(to),
        "urgency": "urgent" if urgent else "ordinary",
        "data": body,
    }
    publish_new(cls, fields, home, nats_url, forceable=forceable)


def override_reason(force: bool, reason: str | None) -> str | None:
    """The reason to record with --force, or None without it; exit 2 when one comes without
    the other, or the reason is blank."""
    from adapters.i18n import _

    given = reason.strip() if reason is not None else None
    if force and not given:
        console.print(
            _('--force needs --reason "WHY": the reason is recorded with the request.'),
            style="red",
            markup=False,
        )
        raise typer.Exit(2)
    if given is not None and not force:
        console.print(
            _("--reason goes with --force: give both, or neither."),
            style="red",
            markup=False,
        )
        raise typer.Exit(2)
    return given


def municipality_of(value: str | None) -> str | None:
    """The municipality given, trimmed; exit 2 when it is blank."""
    from adapters.i18n import _

    if value is None:
        return None
    if not value.strip():
        console.print(
            _('--municipality: give the municipality\'s name, e.g. "Chilpancingo de los Bravo".'),
            style="red",
            markup=False,
        )
        raise typer.Exit(2)
    return value.strip()


def implement_by(value: str | None) -> datetime | None:
    """--implement-by as a moment: a day (YYYY-MM-DD: the end of that day in Mexico City) or
    a date and time with its time zone; exit 2 otherwise."""
    from datetime import date, time

    from adapters.i18n import ZONE, _

    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(23, 59), ZONE)
    if "T" not in value and " " not in value:
        console.print(
            _(
                "--implement-by: {value!r} is not a date (2026-12-15) or a date and time with "
                "its time zone (2026-12-15T18:00-06:00)."
            ).format(value=value),
            style="red",
            markup=False,
        )
        raise typer.Exit(2)
    return common.aware_time(value, "--implement-by")


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
    municipality: MunicipalityOpt = None,
    implement_by_: ImplementByOpt = None,
    iachr: IachrOpt = None,
    urgent: UrgentOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask a state government to implement protection measures."""
    from schemas.requests import ProtectionMeasureRequest

    override = override_reason(force, reason)
    state = common.state_code(state, "--state")
    data: dict[str, object] = {
        "measures": measure,
        "beneficiary_role": role,
        "state": state,
        "instructions": instructions,
    }
    if (where := municipality_of(municipality)) is not None:
        data["municipality"] = where
    if (by := implement_by(implement_by_)) is not None:
        data["implement_by"] = by
    if iachr is not None:
        data["iachr_precautionary_measure"] = _linked(iachr, {state.upper()}, home, nats_url)
    send_request(
        ProtectionMeasureRequest,
        to,
        case,
        urgent,
        data,
        home,
        nats_url,
        override=override,
        forceable=True,
    )


@app.command("investigation")
def send_investigation(
    to: ToOpt,
    case: CaseOpt,
    aggression: Annotated[str, typer.Option(help="The aggression to investigate.")],
    facts: Annotated[str, typer.Option(help="Summary of the facts (no names).")],
    step: Annotated[list[str] | None, typer.Option(help="Step requested (repeatable).")] = None,
    municipality: MunicipalityOpt = None,
    iachr: IachrOpt = None,
    urgent: UrgentOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask a state prosecutor to investigate an aggression."""
    from schemas.registry import active_registry
    from schemas.requests import InvestigationRequest

    override = override_reason(force, reason)
    data: dict[str, object] = {
        "aggression": aggression,
        "facts_summary": facts,
        "steps_requested": step or [],
    }
    if (where := municipality_of(municipality)) is not None:
        data["municipality"] = where
    if iachr is not None:
        registry = active_registry()
        states = {s for a in to if a in registry and (s := registry[a].state)}
        data["iachr_precautionary_measure"] = _linked(iachr, states, home, nats_url)
    send_request(
        InvestigationRequest,
        to,
        case,
        urgent,
        data,
        home,
        nats_url,
        override=override,
        forceable=True,
    )


@app.command("information")
def send_information(
    to: ToOpt,
    case: CaseOpt,
    question: Annotated[str, typer.Option(help="What the Mechanism needs to know.")],
    urgent: UrgentOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask an agency for information."""
    from schemas.requests import InformationRequest

    override = override_reason(force, reason)
    data = {"question": question}
    send_request(
        InformationRequest,
        to,
        case,
        urgent,
        data,
        home,
        nats_url,
        override=override,
        forceable=True,
    )


def _follow_up(
    cls: type[Envelope],
    request_id: str,
    data: dict[str, object],
    home: Path | None,
    nats_url: str | None,
    ledger_url: str | None,
    *,
    forceable: bool = False,
) -> None:
    """A recall or update of an earlier request, to every recipient still concerned."""
    from pydantic import ValidationError

    from adapters.readmodel.references import request_id as whole_id
    from adapters.readmodel.requests import RequestLine, request_lines

    settings = common.settings(home, nats_url, ledger_url)

    def read(session: Session) -> tuple[str, list[RequestLine]]:
        found = whole_id(session, request_id)  # or six characters of its start or end
        return found, request_lines(session, request_ids=[found])

    request_id, lines = common.query(settings, read)
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
    common.publish(settings, message, forceable=forceable)


@app.command("recall")
def send_recall(
    request_id: Annotated[
        str, typer.Argument(help="The request to recall (its id, or 6 characters of it).")
    ],
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
    request_id: Annotated[
        str, typer.Argument(help="The request to update (its id, or 6 characters of it).")
    ],
    changes: Annotated[str, typer.Option(help="What changed.")],
    implement_by_: ImplementByOpt = None,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Tell the recipients of a request what changed in it (a protection measure's new date
    to implement by, too: no later than its legal limit)."""
    from schemas.requests import RequestUpdate

    override = override_reason(force, reason)
    data: dict[str, object] = {"changes": changes}
    if (by := implement_by(implement_by_)) is not None:
        data["implement_by"] = by
    if override is not None:
        data["override_reason"] = override
    _follow_up(RequestUpdate, request_id, data, home, nats_url, ledger_url, forceable=True)


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
