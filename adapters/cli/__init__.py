"""The ``mechbus`` command line (Typer + Rich)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from sqlmodel import Session

from adapters.bridge import cli as bridge_cli
from adapters.cli import contract, db
from adapters.dashboard import cli as dashboard_cli
from adapters.ledger.migrate import SchemaError
from adapters.ledger.obligations import SqlObligations
from adapters.ledger.outbox import Outbox
from adapters.ledger.replay import ReplayError, ReplayReport
from adapters.ledger.replay import compare as compare_ledgers
from adapters.ledger.replay import replay as replay_stream
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow
from adapters.natsserver.credentials import CredentialError, CredentialStore
from adapters.natsserver.tls import make_development_tls
from adapters.output import Column, choose, emit, make_console
from adapters.paging import PAGE_ROWS, Page
from adapters.readmodel import tracking
from adapters.readmodel.report import month_bounds, write_report
from adapters.readmodel.views import request_lines, requests_table
from adapters.service import actions, compose
from adapters.service.actions import connect_as_hub as _connect_as_hub
from adapters.service.demo import DemoError, DemoResult, run_demo
from adapters.service.running import Up, UpError, apply_to_running_up
from adapters.service.scenario import Scenario, ScenarioError
from adapters.service.stubs import stub_command
from adapters.settings import HubRunning, Settings, SettingsError, load_settings
from bus.domain.capacity import matching, mismatch
from bus.domain.chain import verify as verify_chain
from bus.domain.policy import Policy, PolicyError
from bus.domain.scorecard import StateScore
from bus.runtime.sweeper import Sweeper
from schemas.envelope import Envelope
from schemas.messages import export_json_schemas, parse_message
from schemas.requests import (
    InformationRequest,
    InvestigationRequest,
    MeasureKind,
    ProtectionMeasureRequest,
    RelocationBody,
    RelocationRequest,
    RequestRecall,
    RequestUpdate,
)
from schemas.tracking import BoardAttendance, BoardSessionScheduled

T = TypeVar("T")

app = typer.Typer(
    help="mechbus: the coordination bus of the Protection Mechanism.", no_args_is_help=True
)
send_app = typer.Typer(help="Publish one request to an agency.", no_args_is_help=True)
schemas_app = typer.Typer(help="The published contract.", no_args_is_help=True)
board_app = typer.Typer(
    help="The Governing Board: sessions, agenda, attendance.", no_args_is_help=True
)
app.add_typer(send_app, name="send")
app.add_typer(schemas_app, name="schemas")
app.add_typer(board_app, name="board")
app.add_typer(db.app, name="db")
app.add_typer(contract.app, name="contract")
app.add_typer(dashboard_cli.app, name="dashboard")
console = make_console()

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


def _settings(
    home: Path | None, nats_url: str | None = None, ledger_url: str | None = None
) -> Settings:
    try:
        return load_settings(home=home, nats_url=nats_url, ledger_url=ledger_url)
    except SettingsError as exc:  # e.g. a bad MECHBUS_DB_* value: say which, no traceback
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


def _run(coro: object) -> None:
    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; everything was stopped[/]")
        raise typer.Exit(130) from None


@app.command()
def demo(
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    scenario: Annotated[
        Path | None, typer.Option(help="A scenario file (TOML); default: the shipped one.")
    ] = None,
) -> None:
    """Play a scenario: a nats-server, the hub, the sweeper and stub agencies; show the outcome."""
    settings = _settings(home, nats_url, ledger_url)
    try:
        chosen = Scenario.load(scenario) if scenario else Scenario.default()
    except ScenarioError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    try:
        result: list[DemoResult] = []
        _run(_collect(run_demo(settings, console, chosen), result))
    except DemoError as exc:
        console.print(f"[red]demo failed: {exc}[/]")
        raise typer.Exit(1) from None
    if result and result[0].unmet:
        console.print(f"[red]expected but not seen: {'; '.join(result[0].unmet)}[/]")
        raise typer.Exit(1)


async def _collect(coro: Any, into: list[Any]) -> None:
    into.append(await coro)


@app.command()
def up(
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    policy: Annotated[Path | None, typer.Option(help="Deadline policy file (TOML).")] = None,
    sweep_interval: Annotated[float, typer.Option(help="Seconds between deadline sweeps.")] = 30.0,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="Three embedded nats-server nodes as one JetStream cluster, streams on all "
            "three (R3); with --nats-url: those comma-separated servers are such a cluster.",
        ),
    ] = False,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="HOST:PORT the embedded nats-server listens on (or $MECHBUS_LISTEN); default: "
            "the address recorded in the home at the first start.",
        ),
    ] = None,
    retention_days: Annotated[
        float | None,
        typer.Option(
            "--retention-days",
            min=0,
            help="Days the stream keeps each message (or $MECHBUS_RETENTION_DAYS); 0: forever.",
        ),
    ] = None,
) -> None:
    """Run the hub and the deadline sweeper (and the embedded nats-server unless --nats-url)
    until Ctrl-C or SIGTERM."""
    settings = _settings(home, nats_url, ledger_url)
    if listen is not None:
        settings = dataclasses.replace(settings, listen=listen)
    if retention_days is not None:
        settings = dataclasses.replace(settings, retention_days=retention_days)
    rules = _policy(policy)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runner = Up(settings, console, rules, sweep_interval=sweep_interval, cluster=cluster)
    try:
        asyncio.run(runner.run())
    except (HubRunning, UpError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print("stopped cleanly")


@contextlib.contextmanager
def _publishing() -> Iterator[None]:
    """A publish's failures as the user reads them: no server (exit 2), refused (exit 1)."""
    try:
        yield
    except actions.NoServer as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    except actions.Refused as exc:
        console.print(f"[red]not published: {exc}[/]")
        raise typer.Exit(1) from None


def _publish(settings: Settings, message: Envelope) -> None:
    """Publish ``message`` (a federal one through the outbox: ``actions.publish``)."""
    with _publishing():
        sent = asyncio.run(actions.publish(settings, message))
    if sent.kept_because is not None:
        _queued(message, sent.kept_because)
    for ack in sent.acks:
        dup = " (duplicate: already on the bus)" if ack.duplicate else ""
        console.print(f"published {message.id} as stream seq {ack.seq}{dup}")


def _queued(message: Envelope, why: str) -> None:
    console.print(
        f"[yellow]{why}: {message.type} {message.id} is kept in the outbox and will be "
        "published when NATS is back (`mechbus up` relays it; `mechbus outbox list` shows it)[/]"
    )


ToOpt = Annotated[list[str], typer.Option("--to", help="Recipient agency id, e.g. gro.government.")]
CaseOpt = Annotated[str, typer.Option("--case", help="Case reference, e.g. MPDDHP-2026-0412.")]
UrgentOpt = Annotated[bool, typer.Option("--urgent/--ordinary", help="Urgency of the request.")]


def _refuse(exc: ValidationError) -> typer.Exit:
    """Say what is wrong with the message, field by field, before anything is published."""
    for error in exc.errors(include_input=False, include_url=False):
        console.print(f"[red]{'.'.join(str(p) for p in error['loc'])}: {error['msg']}[/]")
    return typer.Exit(2)


def _send_request(
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
    try:
        message = cls.model_validate(fields)
    except ValidationError as exc:
        raise _refuse(exc) from None
    _publish(_settings(home, nats_url), message)


@send_app.command("protection-measure")
def send_protection_measure(
    to: ToOpt,
    case: CaseOpt,
    state: Annotated[str, typer.Option(help="ISO 3166-2:MX state code, e.g. GRO.")],
    instructions: Annotated[str, typer.Option(help="What the agency must do.")],
    measure: Annotated[list[MeasureKind], typer.Option(help="Measure kind (repeatable).")],
    role: Annotated[
        str, typer.Option(help="journalist | defender | relative | organisation")
    ] = "defender",
    urgent: UrgentOpt = False,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask a state government to implement protection measures."""
    data = {
        "measures": measure,
        "beneficiary_role": role,
        "state": state,
        "instructions": instructions,
    }
    _send_request(ProtectionMeasureRequest, to, case, urgent, data, home, nats_url)


@send_app.command("investigation")
def send_investigation(
    to: ToOpt,
    case: CaseOpt,
    aggression: Annotated[str, typer.Option(help="The aggression to investigate.")],
    facts: Annotated[str, typer.Option(help="Summary of the facts (no names).")],
    step: Annotated[list[str] | None, typer.Option(help="Step requested (repeatable).")] = None,
    urgent: UrgentOpt = False,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask a state prosecutor to investigate an aggression."""
    data = {"aggression": aggression, "facts_summary": facts, "steps_requested": step or []}
    _send_request(InvestigationRequest, to, case, urgent, data, home, nats_url)


@send_app.command("information")
def send_information(
    to: ToOpt,
    case: CaseOpt,
    question: Annotated[str, typer.Option(help="What the Mechanism needs to know.")],
    urgent: UrgentOpt = False,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Ask an agency for information."""
    data = {"question": question}
    _send_request(InformationRequest, to, case, urgent, data, home, nats_url)


def _follow_up(
    cls: type[Envelope],
    request_id: str,
    data: dict[str, object],
    home: Path | None,
    nats_url: str | None,
    ledger_url: str | None,
) -> None:
    """A recall or update of an earlier request, to every recipient still concerned."""
    settings = _settings(home, nats_url, ledger_url)
    ledger = compose.open_ledger(settings)
    try:
        with ledger.session() as session:
            lines = request_lines(session, request_ids=[request_id])
    finally:
        ledger.close()
    if not lines:
        console.print(f"[red]no request {request_id} in the ledger[/]")
        raise typer.Exit(2)
    concerned = [line.recipient for line in lines if line.status not in ("declined", "cancelled")]
    if not concerned:
        console.print(f"[red]request {request_id} has no recipient left to tell[/]")
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
        raise _refuse(exc) from None
    _publish(settings, message)


@send_app.command("recall")
def send_recall(
    request_id: Annotated[str, typer.Argument(help="The request to recall.")],
    reason: Annotated[str, typer.Option(help="Why it is recalled.")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Recall (cancel) a request for every recipient that has not declined it."""
    _follow_up(RequestRecall, request_id, {"reason": reason}, home, nats_url, ledger_url)


@send_app.command("update")
def send_update(
    request_id: Annotated[str, typer.Argument(help="The request to update.")],
    changes: Annotated[str, typer.Option(help="What changed.")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Tell the recipients of a request what changed in it."""
    _follow_up(RequestUpdate, request_id, {"changes": changes}, home, nats_url, ledger_url)


@send_app.command("file")
def send_file(
    path: Annotated[Path, typer.Argument(help="A JSON file holding one v1 message.", exists=True)],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Publish a message written as JSON (validated against the contract first)."""
    try:
        message = parse_message(path.read_bytes())
    except ValidationError as exc:
        raise _refuse(exc) from None
    _publish(_settings(home, nats_url), message)


# Every list view shows one page: --limit rows from --offset, or --all; a cut list says so.
LimitOpt = Annotated[int, typer.Option(min=1, help="At most this many rows (one page).")]
OffsetOpt = Annotated[int, typer.Option(min=0, help="Skip this many rows (the next page).")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every row, however many.")]


def _page(limit: int, offset: int, every: bool) -> Page:
    return Page(None if every else limit, offset)


@app.command()
def requests(
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """List the ledger's requests, newest first, one row per recipient."""
    page = _page(limit, offset, every)
    settings = _settings(home, ledger_url=ledger_url)
    ledger = compose.open_ledger(settings)
    try:
        with ledger.session() as session:
            fetched = request_lines(session, limit=page.fetch, offset=page.offset)
    finally:
        ledger.close()
    lines, cut = page.cut(fetched)
    more = page.more(len(lines)) if cut else None
    if as_json:
        if more:
            print(more, file=sys.stderr)
        for line in lines:
            print(json.dumps(line.as_json(), ensure_ascii=False))
        return
    table = requests_table(lines)
    if more:
        table.caption = f"{table.caption}; {more}"
    console.print(table)


JsonOpt = Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV instead of a table.")]


def _read(settings: Settings) -> SqlLedger:
    return compose.open_ledger(settings)


def _query(settings: Settings, read: Callable[[Session], T]) -> T:
    """Run one read against the ledger and close it."""
    ledger = _read(settings)
    try:
        with ledger.session() as session:
            return read(session)
    finally:
        ledger.close()


def _show(
    rows: list[Any],
    columns: list[Column],
    as_json: bool,
    as_csv: bool,
    title: str,
    caption: str | None = None,
    page: Page | None = None,
) -> None:
    """``rows`` as fetched for ``page`` (one more than it shows, when there are more)."""
    try:
        fmt = choose(as_json, as_csv)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    rows, cut = page.cut(rows) if page else (rows, False)
    more = page.more(len(rows)) if page and cut else None
    emit(rows, columns, fmt, console, title=title, caption=caption, more=more)


@app.command()
def pending(
    state: Annotated[str | None, typer.Option(help="State code, e.g. GRO.")] = None,
    agency: Annotated[str | None, typer.Option(help="Agency id, e.g. gro.government.")] = None,
    kind: Annotated[str | None, typer.Option(help="Request kind, e.g. protection_measure.")] = None,
    urgency: Annotated[str | None, typer.Option(help="urgent or ordinary.")] = None,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Requests nobody has acknowledged or answered, most overdue first."""
    now, page = datetime.now(UTC), _page(limit, offset, every)
    filters = tracking.Filters(state, agency, kind, urgency)
    rows = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.pending(session, now, filters, page.fetch, page.offset),
    )
    columns: list[Column] = [
        ("request", lambda r: r.request_id),
        ("case", lambda r: r.case_ref),
        ("kind", lambda r: r.kind),
        ("urgency", lambda r: r.urgency),
        ("agency", lambda r: r.agency),
        ("status", lambda r: r.status),
        ("owes", lambda r: r.owed),
        ("due", lambda r: r.due_at),
        ("overdue_hours", lambda r: r.overdue_hours),
    ]
    _show(
        rows,
        columns,
        as_json,
        as_csv,
        "Unanswered requests, most overdue first",
        "overdue_hours < 0: still within the deadline",
        page,
    )


@app.command("commitments")
def commitments_cmd(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past due.")] = False,
    agency: Annotated[str | None, typer.Option(help="Agency id.")] = None,
    state: Annotated[str | None, typer.Option(help="State code.")] = None,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Open commitments (actions agencies committed to), earliest due first."""
    page = _page(limit, offset, every)
    rows = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.commitments(
            session,
            datetime.now(UTC),
            overdue_only=overdue,
            agency=agency,
            state=state,
            limit=page.fetch,
            offset=page.offset,
        ),
    )
    columns: list[Column] = [
        ("request", lambda r: r.request_id),
        ("case", lambda r: r.case_ref),
        ("agency", lambda r: r.agency),
        ("commitment", lambda r: r.commitment_id),
        ("action", lambda r: r.action),
        ("due", lambda r: r.due),
        ("status", lambda r: r.status),
        ("overdue_hours", lambda r: r.overdue_hours),
    ]
    title = "Overdue commitments" if overdue else "Open commitments"
    _show(rows, columns, as_json, as_csv, title, page=page)


@app.command()
def case(
    ref: Annotated[str, typer.Argument(help="Case reference, e.g. MPDDHP-2026-0412.")],
    personal: Annotated[
        bool, typer.Option("--personal", help="Also show the people's details (federal staff).")
    ] = False,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """One case's timeline across all agencies."""
    page = _page(limit, offset, every)
    settings = _settings(home, ledger_url=ledger_url)
    ledger = compose.open_ledger(settings)
    try:
        with ledger.session() as session:
            rows = tracking.case_timeline(session, ref, page.fetch, page.offset)
        details = (
            {(e.source, e.message_id): ledger.personal(e.message_id, e.source) for e in rows}
            if personal
            else {}
        )
    finally:
        ledger.close()
    columns: list[Column] = [
        ("recorded", lambda r: r.recorded_at),
        ("from", lambda r: r.source),
        ("to", lambda r: r.to),
        ("message", lambda r: r.message),
        ("request", lambda r: r.request_id[-8:]),
        ("detail", lambda r: r.detail),
    ]
    if personal:  # opened from the sealed store, for this view only; never logged
        columns.append(("personal", lambda r: _names(details.get((r.source, r.message_id)))))
    _show(rows, columns, as_json, as_csv, f"Case {ref}", page=page)


def _names(personal: Any) -> str:
    people = personal if isinstance(personal, list) else [personal] if personal else []
    return "; ".join(str(p.get("full_name", "")) for p in people if isinstance(p, dict))


SCORE_COLUMNS: list[Column] = [
    ("state", lambda s: s.state),
    ("received", lambda s: s.requests_received),
    ("ack_on_time_pct", lambda s: s.acknowledged_on_time_pct),
    ("median_hours_to_ack", lambda s: s.median_hours_to_acknowledge),
    ("kept_on_time_pct", lambda s: s.kept_on_time_pct),
    ("open_overdue", lambda s: s.open_overdue),
    ("summons_attended", lambda s: f"{s.summons_attended}/{s.summons}"),
]
SORT_KEYS: dict[str, Callable[[StateScore], Any]] = {
    **dict(SCORE_COLUMNS),
    "summons_attended": lambda s: s.summons_attended_pct,
}


@app.command()
def scorecard(
    month: Annotated[str | None, typer.Option(help="YYYY-MM; default: all time.")] = None,
    sort: Annotated[
        str, typer.Option(help="Column to sort by (worst first for figures).")
    ] = "open_overdue",
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Joint responsibility per state: how each state answers the Mechanism."""
    names = list(SORT_KEYS)
    if sort not in names:
        console.print(f"[red]--sort must be one of: {', '.join(names)}[/]")
        raise typer.Exit(2)
    now = datetime.now(UTC)
    since, asof = None, now
    if month:
        try:
            since, end = month_bounds(month)
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        asof = min(end, now)
    scores = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.state_scores(session, asof=asof, since=since),
    )
    # Worst first: lowest percentages, most hours, most overdue; states alphabetically.
    key = SORT_KEYS[sort]
    known = sorted(
        (x for x in scores if key(x) is not None),
        key=key,
        reverse=sort in ("received", "median_hours_to_ack", "open_overdue"),
    )
    scores = known + [x for x in scores if key(x) is None]
    page = _page(limit, offset, every)
    _show(
        scores[page.offset :],
        SCORE_COLUMNS,
        as_json,
        as_csv,
        f"Joint responsibility by state ({month or 'all time'})",
        page=page,
    )


@app.command()
def agenda(
    ref: Annotated[str, typer.Argument(help="Case reference.")],
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """One implementation agenda for a case: the Mechanism's and the IACHR's open items."""
    items = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.case_agenda(session, ref, datetime.now(UTC)),
    )
    columns: list[Column] = [
        ("instruments", lambda a: a.instruments),
        ("agency", lambda a: a.agency),
        ("what", lambda a: a.what),
        ("due", lambda a: a.due),
        ("overdue", lambda a: "OVERDUE" if a.overdue else ""),
        ("status", lambda a: a.status),
        ("request", lambda a: a.request_id),
    ]
    page = _page(limit, offset, every)
    title = f"Implementation agenda for {ref}"
    _show(items[page.offset :], columns, as_json, as_csv, title, page=page)


@app.command()
def report(
    month: Annotated[str, typer.Option(help="The month to report, YYYY-MM.")],
    out: Annotated[Path, typer.Option(help="Directory for the Markdown and the chart.")] = Path(
        "."
    ),
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """The monthly joint-responsibility report (Markdown with an SVG chart)."""
    try:
        written = _query(
            _settings(home, ledger_url=ledger_url),
            lambda session: write_report(session, month, out, datetime.now(UTC)),
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"wrote {written.markdown} and {written.chart}")


def _aware(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{option}: {value!r} is not an ISO 8601 date and time[/]")
        raise typer.Exit(2) from None
    if parsed.tzinfo is None:
        console.print(f"[red]{option}: give a time zone, e.g. 2026-04-15T10:00-06:00[/]")
        raise typer.Exit(2)
    return parsed


@board_app.command("schedule")
def board_schedule(
    session_id: Annotated[str, typer.Argument(help="Session id, e.g. JG-2026-04.")],
    at: Annotated[str, typer.Option(help="When, ISO 8601 with time zone.")],
    venue: Annotated[str, typer.Option(help="Where.")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Schedule a Board session; overdue cases are placed on the next one's agenda."""
    fields = {
        "source": "fed.board",
        "time": datetime.now(UTC),
        "data": {"session_id": session_id, "scheduled_at": _aware(at, "--at"), "venue": venue},
    }
    try:
        message = BoardSessionScheduled.model_validate(fields)
    except ValidationError as exc:
        raise _refuse(exc) from None
    _publish(_settings(home, nats_url), message)


@board_app.command("attendance")
def board_attendance(
    session_id: Annotated[str, typer.Argument(help="Session id.")],
    agency: Annotated[str, typer.Argument(help="The summoned agency.")],
    attended: Annotated[bool, typer.Option("--attended/--absent", help="Did it attend?")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Record whether a summoned authority attended (counts on the scorecard)."""
    fields = {
        "source": "fed.board",
        "time": datetime.now(UTC),
        "data": {"session_id": session_id, "agency": agency, "attended": attended},
    }
    try:
        message = BoardAttendance.model_validate(fields)
    except ValidationError as exc:
        raise _refuse(exc) from None
    _publish(_settings(home, nats_url), message)


@board_app.command("agenda")
def board_agenda(
    session_id: Annotated[str | None, typer.Argument(help="Session id (default: all).")] = None,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Cases the ladder placed on the Board's agenda, with the authority to summon."""
    page = _page(limit, offset, every)
    rows = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.board_agenda(session, session_id, page.fetch, page.offset),
    )
    columns: list[Column] = [
        ("session", lambda e: e.board_session_id or "(not yet scheduled)"),
        ("request", lambda e: e.request_id),
        ("authority_to_summon", lambda e: e.agency),
        ("clock", lambda e: e.clock),
        ("due", lambda e: e.due_at),
        ("placed", lambda e: e.fired_at),
    ]
    _show(rows, columns, as_json, as_csv, "Governing Board agenda", page=page)


@app.command()
def sweep(
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    policy: Annotated[Path | None, typer.Option(help="Deadline policy file (TOML).")] = None,
) -> None:
    """One pass of the deadline sweeper (``mechbus up`` runs it continuously)."""
    settings = _settings(home, nats_url, ledger_url)
    rules = _policy(policy)
    url = settings.running_nats_url()
    if url is None:
        console.print("[red]no NATS server: start one with `mechbus up` or pass --nats-url[/]")
        raise typer.Exit(2)

    async def once() -> int:
        ledger = compose.open_ledger(settings)
        nc = await _connect_as_hub(settings, url, "mechbus-sweep")
        try:
            sweeper = Sweeper(
                SqlObligations(ledger),
                nc.jetstream(),
                policy=rules,
                copy_ids=compose.copy_ids(settings),
            )
            return len(await sweeper.sweep_once())
        finally:
            await nc.drain()
            ledger.close()

    console.print(f"sent {asyncio.run(once())} escalation messages")


def _policy(path: Path | None) -> Policy:
    try:
        return Policy.load(path)
    except PolicyError as exc:
        console.print(f"[red]bad deadline policy: {exc}[/]")
        raise typer.Exit(2) from None


MaxAgeOpt = Annotated[
    float, typer.Option("--max-age-hours", help="Capacity reports older than this are stale.")
]


@app.command("shelters")
def shelters_cmd(
    max_age_hours: MaxAgeOpt = 24.0,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Each shelter's current capacity (stale reports marked as such)."""
    now, max_age = datetime.now(UTC), timedelta(hours=max_age_hours)
    page = _page(limit, offset, every)
    rows = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.shelters(session, page.fetch, page.offset),
    )
    columns: list[Column] = [
        ("shelter", lambda c: c.shelter),
        ("region", lambda c: c.region),
        ("free", lambda c: c.free_spaces),
        ("total", lambda c: c.total_spaces),
        ("in_24h", lambda c: c.spaces_24h),
        ("in_72h", lambda c: c.spaces_72h),
        ("families", lambda c: c.accepts_families),
        ("children", lambda c: c.accepts_children),
        ("accessible", lambda c: c.accessible),
        ("security", lambda c: c.security_level),
        ("max_stay_days", lambda c: c.max_stay_days),
        ("reported", lambda c: c.reported_at),
        ("stale", lambda c: "STALE" if c.stale(now, max_age) else ""),
    ]
    _show(
        rows,
        columns,
        as_json,
        as_csv,
        "Shelter capacity",
        f"stale: reported more than {max_age_hours:g} h ago",
        page,
    )


@app.command()
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
    try:
        earliest_day = date.fromisoformat(earliest)
    except ValueError:
        console.print(f"[red]--earliest: {earliest!r} is not a date like 2026-12-01[/]")
        raise typer.Exit(2) from None
    data: dict[str, object] = {
        "people": people,
        "adults": people - children,
        "children": children,
        "needs": need or [],
        "origin_state": origin_state.upper(),
        "earliest": earliest_day,
        "expected_days": days,
        "accessibility_required": accessible,
        "preferred_regions": region or [],
    }
    try:
        body = RelocationBody.model_validate(data)
    except ValidationError as exc:
        raise _refuse(exc) from None
    settings = _settings(home, nats_url, ledger_url)
    known = _query(settings, tracking.shelters)
    now = datetime.now(UTC)
    if shelter:
        chosen = list(shelter)
    else:
        max_age = timedelta(hours=max_age_hours)
        chosen = [c.shelter for c in matching(known, body, now, max_age)]
        for c in known:
            why = mismatch(c, body, now, max_age)
            if why:
                console.print(f"[dim]{c.shelter} not asked: {why}[/]")
    if not chosen:
        console.print("[red]no shelter can take this relocation now[/]")
        raise typer.Exit(1)
    console.print(f"asking {', '.join(chosen)}")
    _send_request(RelocationRequest, chosen, case, urgent, data, home, nats_url)


placements_app = typer.Typer(help="Relocations and their placements.", invoke_without_command=True)
app.add_typer(placements_app, name="placements")


@placements_app.callback()
def placements_list(
    ctx: typer.Context,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """List relocations, one row per shelter asked, with where each stands."""
    if ctx.invoked_subcommand is not None:
        return
    page = _page(limit, offset, every)
    rows = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.placements(session, page.fetch, page.offset),
    )
    columns: list[Column] = [
        ("request", lambda p: p.request_id),
        ("case", lambda p: p.case_ref),
        ("people", lambda p: p.people),
        ("from_state", lambda p: p.origin_state),
        ("shelter", lambda p: p.shelter),
        ("status", lambda p: p.status),
        ("sent", lambda p: p.sent_at),
        ("answered", lambda p: p.answered_at),
    ]
    _show(rows, columns, as_json, as_csv, "Relocations and placements", page=page)


@placements_app.command("confirm")
def placements_confirm(
    request_id: Annotated[str, typer.Argument(help="The relocation request.")],
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
    settings = _settings(home, nats_url, ledger_url)
    relocation = _query(settings, lambda session: actions.load_relocation(session, request_id))
    if relocation is None:
        console.print(f"[red]no relocation {request_id} in the ledger[/]")
        raise typer.Exit(2)
    personal = json.loads(details.read_text(encoding="utf-8")) if details else []
    try:
        with _publishing():
            placed = asyncio.run(
                actions.confirm_placement(settings, relocation, shelter, personal, wait)
            )
    except actions.Unplaceable as exc:
        console.print(f"[red]not confirmed, nothing was sent: {exc}[/]")
        raise typer.Exit(1) from None
    except ValidationError as exc:
        raise _refuse(exc) from None
    _say_placed(placed, request_id, shelter)


def _say_placed(placed: actions.Placed, request_id: str, shelter: str) -> None:
    if placed.recorded:
        console.print(
            f"placed: the hub recorded {placed.message.id}; {shelter} receives the details "
            f"for {request_id} and the other offers are released"
        )
    elif placed.refused is not None:
        console.print(
            f"[red]refused by the hub, nothing was sent to {shelter}: {placed.refused}[/]"
        )
        raise typer.Exit(1)
    else:
        why = placed.kept_because or "the hub has not recorded it in time"
        console.print(
            f"[yellow]{placed.message.id} not recorded yet ({why}): "
            "`mechbus placements` shows when the hub has placed or refused it[/]"
        )
        raise typer.Exit(3)


agency_app = typer.Typer(help="Simulated agencies for trials.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")


@agency_app.command("run")
def agency_run(
    agency: Annotated[str, typer.Option("--as", help="Agency id, e.g. gro.government.")],
    profile: Annotated[
        str, typer.Option(help="prompt | slow | silent | declines | partial")
    ] = "prompt",
    seed: Annotated[int, typer.Option(help="Seed of the random delays.")] = 0,
    capacity: Annotated[
        Path | None, typer.Option(help="A shelter's capacity report (JSON file).")
    ] = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
) -> None:
    """Run one stub agency in the foreground (its own process, like a real agency's client)."""
    settings = _settings(home, nats_url)
    url = settings.running_nats_url()
    if url is None:
        console.print("[red]no NATS server: start one with `mechbus up` or pass --nats-url[/]")
        raise typer.Exit(2)
    if settings.creds_dir.exists() and settings.creds_for(agency) is None:
        console.print(f"[red]no credentials for {agency}: run `mechbus creds issue {agency}`[/]")
        raise typer.Exit(2)
    text = capacity.read_text(encoding="utf-8") if capacity is not None else None
    args = stub_command(settings, agency, url, profile, seed, text)
    os.execv(sys.executable, args)  # the stub replaces this process: Ctrl-C reaches it directly


creds_app = typer.Typer(help="NATS credentials for the agencies.", no_args_is_help=True)
app.add_typer(creds_app, name="creds")
bridge_cli.register(app, creds_app)  # mechbus bridge; creds token|webhook|email


def _issued(settings: Settings) -> list[str]:
    store = CredentialStore(settings.creds_dir)
    return sorted(store.issued()) if store.users_file.exists() else []


def _store(home: Path | None) -> CredentialStore:
    return CredentialStore(_settings(home).creds_dir)


@creds_app.command("init")
def creds_init(home: HomeOpt = None) -> None:
    """Create the deployment's credential store (and the hub's own key)."""
    store = _store(home)
    store.init()
    console.print(f"credential store ready in {store.directory}")


@creds_app.command("issue")
def creds_issue(
    agency: Annotated[str, typer.Argument(help="Agency id from the registry.")],
    home: HomeOpt = None,
) -> None:
    """Write the agency's credentials (a new key; any older one stops working).

    Hand the seed file to the agency over a secure channel. A running ``mechbus up`` on this
    home applies it at once (its server reloads; nobody else is disconnected).
    """
    settings = _settings(home)
    store = CredentialStore(settings.creds_dir)
    store.init()  # the first issue sets the store up
    try:
        path = store.issue(agency)
    except CredentialError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"wrote {path} (keep it secret)")
    _apply_credentials(settings)


@creds_app.command("revoke")
def creds_revoke(
    agency: Annotated[str, typer.Argument(help="Agency id.")],
    home: HomeOpt = None,
) -> None:
    """Withdraw an agency's credentials; a running ``mechbus up`` on this home cuts it off at
    once."""
    settings = _settings(home)
    try:
        CredentialStore(settings.creds_dir).revoke(agency)
    except CredentialError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"revoked {agency}")
    _apply_credentials(settings)


def _apply_credentials(settings: Settings) -> None:
    try:
        pid = apply_to_running_up(settings)
    except (UpError, OSError) as exc:
        console.print(f"[red]not yet in effect: {exc}[/]")
        raise typer.Exit(1) from None
    if pid is None:
        console.print("no `mechbus up` runs on this home: the next one applies it")
    else:
        console.print(f"in effect on the running server (mechbus up, pid {pid})")


@creds_app.command("tls")
def creds_tls(
    host: Annotated[
        list[str] | None, typer.Option(help="Host names or addresses the server answers on.")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Make a development CA and server certificate; the embedded server then requires TLS.

    For a real deployment use certificates from the institution's own CA.
    """
    settings = _settings(home)
    files = make_development_tls(
        settings.tls_files.ca.parent, tuple(host or ("localhost", "127.0.0.1"))
    )
    console.print(f"wrote {files.ca}, {files.cert} and {files.key}; restart `mechbus up`")


@creds_app.command("list")
def creds_list(home: HomeOpt = None) -> None:
    """Agencies holding credentials, with their public keys."""
    try:
        issued = _store(home).issued()
    except CredentialError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    for agency, public in sorted(issued.items()):
        console.print(f"{agency}  {public}")


audit_app = typer.Typer(help="The tamper-evident record.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(home: HomeOpt = None, ledger_url: LedgerOpt = None) -> None:
    """Walk the ledger's hash chain and name the first broken link (exit 1 if any)."""
    ledger = _read(_settings(home, ledger_url=ledger_url))
    try:
        checked, broken = verify_chain(ledger.chain())
        head = ledger.last_link()
    finally:
        ledger.close()
    if broken is not None:
        console.print(
            f"[red]BROKEN at ledger row {broken.seq} (message {broken.message_id}): "
            f"it {broken.problem}; {checked} rows before it verified[/]"
        )
        raise typer.Exit(1)
    where = f"; head: row {head[0]}, hash {head[2]}" if head else ""
    console.print(f"[green]{checked} rows verified, chain intact[/]{where}")


@app.command()
def replay(
    into: Annotated[
        str,
        typer.Option(
            "--into",
            help="URL of an empty database for the rebuilt ledger (sqlite:///... or "
            "postgresql+psycopg://...).",
        ),
    ],
    compare: Annotated[
        bool,
        typer.Option(help="Compare the rebuilt ledger with the live one; exit 1 if they differ."),
    ] = True,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    policy: Annotated[
        Path | None, typer.Option(help="The deadline policy the live hub ran with (TOML).")
    ] = None,
) -> None:
    """Rebuild the ledger from the stream into an empty database; compare it with the live one."""
    settings = _settings(home, nats_url, ledger_url)
    rules = _policy(policy)
    url = settings.running_nats_url()
    if url is None:
        console.print("[red]no NATS server: start one with `mechbus up` or pass --nats-url[/]")
        raise typer.Exit(2)

    async def rebuild(target: SqlLedger) -> ReplayReport:
        nc = await _connect_as_hub(settings, url, "mechbus-replay")
        try:
            return await replay_stream(nc.jetstream(), target, policy=rules)
        finally:
            await nc.drain()

    target = SqlLedger(into, sealer=compose.sealer(settings), migrate=True)  # a new ledger
    try:
        report = asyncio.run(rebuild(target))
        counts = ", ".join(f"{n} {result}" for result, n in sorted(report.results.items()))
        console.print(
            f"replayed stream seq {report.first_seq}..{report.last_seq}: {report.read} "
            f"messages ({counts or 'none'}) into {target.engine.url!r}"
        )
        if compare:
            live = _read(settings)
            try:
                differences = compare_ledgers(live, target)
            finally:
                live.close()
            for d in differences:
                console.print(
                    f"[red]{d.table}: live {d.live_rows} rows, rebuilt {d.rebuilt_rows}; "
                    f"{d.only_live} only in the live ledger, {d.only_rebuilt} only rebuilt[/]"
                )
            if differences:
                raise typer.Exit(1)
            console.print("[green]the rebuilt ledger equals the live one, table for table[/]")
    except ReplayError as exc:
        console.print(f"[red]replay refused: {exc}[/]")
        raise typer.Exit(2) from None
    finally:
        target.close()


outbox_app = typer.Typer(
    help="The federal services' outbox: what NATS has not confirmed yet.", no_args_is_help=True
)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def outbox_list(
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Messages kept in the outbox and not published yet, oldest first."""
    page = _page(limit, offset, every)
    ledger = _read(_settings(home, ledger_url=ledger_url))
    try:
        rows = Outbox(ledger).waiting(page.fetch, page.offset)
    finally:
        ledger.close()
    columns: list[Column] = [
        ("message", lambda w: w.message_id),
        ("type", lambda w: w.type),
        ("source", lambda w: w.source),
        ("kept", lambda w: w.created_at),
        ("attempts", lambda w: w.attempts),
        ("last error", lambda w: w.last_error),
    ]
    _show(rows, columns, as_json, as_csv, "Outbox (not yet published)", page=page)


@outbox_app.command("relay")
def outbox_relay(
    home: HomeOpt = None, nats_url: NatsOpt = None, ledger_url: LedgerOpt = None
) -> None:
    """Publish what waits in the outbox now (``mechbus up`` does this continuously)."""
    settings = _settings(home, nats_url, ledger_url)
    url = settings.running_nats_url()
    if url is None:
        console.print("[red]no NATS server: start one with `mechbus up` or pass --nats-url[/]")
        raise typer.Exit(2)

    async def once(outbox: Outbox) -> int:
        nc = await _connect_as_hub(settings, url, "mechbus-outbox")
        try:
            return await outbox.relay(nc.jetstream(), copy_ids=compose.copy_ids(settings))
        finally:
            await nc.drain()

    ledger = compose.open_ledger(settings)
    try:
        outbox = Outbox(ledger)
        sent = asyncio.run(once(outbox))
        left = len(outbox.waiting())
    finally:
        ledger.close()
    console.print(f"published {sent} from the outbox; {left} still waiting")
    if left:
        raise typer.Exit(1)


dlq_app = typer.Typer(help="Dead letters: bad input kept with its reason.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. schema.")] = None,
    sender: Annotated[str | None, typer.Option(help="Only from this agency.")] = None,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Dead letters, newest first (their bodies stay sealed)."""
    page = _page(limit, offset, every)
    rows = _query(
        _settings(home, ledger_url=ledger_url),
        lambda session: tracking.dead_letters(
            session, reason=reason, sender=sender, limit=page.fetch, offset=page.offset
        ),
    )
    columns: list[Column] = [
        ("id", lambda d: d.id),
        ("received", lambda d: d.received_at),
        ("sender", lambda d: d.sender),
        ("reason", lambda d: d.reason),
        ("subject", lambda d: d.nats_subject),
        ("message", lambda d: d.message_id),
        ("detail", lambda d: d.detail),
    ]
    _show(rows, columns, as_json, as_csv, "Dead letters", page=page)


def _dead_letter(settings: Settings, dead_id: int) -> tuple[DeadLetterRow, bytes]:
    ledger = compose.open_ledger(settings)
    try:
        with ledger.session() as session:
            row = session.get(DeadLetterRow, dead_id)
        if row is None:
            console.print(f"[red]no dead letter {dead_id}[/]")
            raise typer.Exit(2)
        return row, ledger.dead_letter_body(row)
    finally:
        ledger.close()


@dlq_app.command("show")
def dlq_show(
    dead_id: Annotated[int, typer.Argument(help="The dead letter's id (see dlq list).")],
    raw: Annotated[
        bool, typer.Option("--raw", help="Also print the input as received (may be personal).")
    ] = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """One dead letter: why it was refused, field by field."""
    row, body = _dead_letter(_settings(home, ledger_url=ledger_url), dead_id)
    console.print(
        f"dead letter {row.id}: {row.reason} from {row.sender or '?'} on {row.nats_subject}"
    )
    console.print(f"received {row.received_at:%Y-%m-%d %H:%M:%S} UTC, stream seq {row.stream_seq}")
    console.print(f"detail: {row.detail}")
    for location, problem in json.loads(row.errors_json):
        console.print(f"  {location}: {problem}")
    if raw:
        print(body.decode("utf-8", errors="replace"))


@dlq_app.command("retry")
def dlq_retry(
    dead_id: Annotated[int, typer.Argument(help="The dead letter's id (see dlq list).")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Put the input back on the bus as it was received, for the hub to judge again (after
    what made it wrong has changed, e.g. the acknowledgement that was missing has arrived)."""
    settings = _settings(home, nats_url, ledger_url)
    row, body = _dead_letter(settings, dead_id)
    url = settings.running_nats_url()
    if url is None:
        console.print("[red]no NATS server: start one with `mechbus up` or pass --nats-url[/]")
        raise typer.Exit(2)

    async def again() -> int:
        # only the hub may write on any agency's subject
        nc = await _connect_as_hub(settings, url, "mechbus-dlq")
        try:
            ack = await nc.jetstream().publish(
                row.nats_subject,
                body,
                stream="MECHBUS",
                headers={
                    "Nats-Msg-Id": f"retry-{row.stream_seq}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
                },
            )
            return int(ack.seq)
        finally:
            await nc.drain()

    console.print(f"dead letter {dead_id} published again as stream seq {asyncio.run(again())}")


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Where to write the JSON Schemas.")],
) -> None:
    """Write one JSON Schema per message type (and one for the whole union)."""
    written = export_json_schemas(directory)
    console.print(f"wrote {len(written)} JSON Schemas to {directory}")


def main() -> None:
    try:
        app()
    except SchemaError as exc:  # e.g. a ledger never upgraded: say what to run, no traceback
        console.print(str(exc), style="red", markup=False)
        raise SystemExit(1) from None
    except SettingsError as exc:  # a key from the environment, checked where it is first used
        console.print(str(exc), style="red", markup=False)
        raise SystemExit(2) from None
