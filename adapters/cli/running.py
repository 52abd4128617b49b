"""Running the bus: ``mechbus up``, ``demo``, one ``sweep``, ``replay`` of the stream into a
new ledger, and ``audit verify`` of the ledger's hash chain."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.digest import SmtpFromOpt, SmtpHostOpt, SmtpPortOpt, SmtpUserOpt
from adapters.cli.options import (
    HomeOpt,
    LedgerOpt,
    LogFormatOpt,
    LogLevelOpt,
    NatsOpt,
    PolicyOpt,
    TraceOpt,
)
from adapters.i18n import _
from adapters.observability.logs import LogFormat, LogLevel

if TYPE_CHECKING:
    from adapters.ledger.replay import ReplayReport
    from adapters.ledger.store import SqlLedger
    from adapters.service.demo import DemoResult

audit_app = typer.Typer(help="The tamper-evident record.", no_args_is_help=True)


def demo(
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    scenario: Annotated[
        Path | None, typer.Option(help="A scenario file (TOML); default: the shipped one.")
    ] = None,
) -> None:
    """Play a scenario: a nats-server, the hub, the sweeper and stub agencies; show the outcome."""
    from adapters.service.demo import DemoError, run_demo
    from adapters.service.scenario import Scenario, ScenarioError

    settings = common.settings(home, nats_url, ledger_url)
    try:
        chosen = Scenario.load(scenario) if scenario else Scenario.default()
    except ScenarioError as exc:
        raise common.fail(exc) from None
    try:
        result: list[DemoResult] = []
        common.run(_collect(run_demo(settings, console, chosen), result))
    except DemoError as exc:
        said = _("demo failed: {reason}").format(reason=exc)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(1) from None
    if result and result[0].unmet:
        said = _("expected but not seen: {unmet}").format(unmet="; ".join(result[0].unmet))
        console.print(f"[red]{said}[/]")
        raise typer.Exit(1)


async def _collect(coro: Any, into: list[Any]) -> None:
    into.append(await coro)


def up(
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    policy: PolicyOpt = None,
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
    digest_to: Annotated[
        str | None,
        typer.Option(help="Mail the daily digest to these addresses (comma-separated)."),
    ] = None,
    digest_at: Annotated[
        str, typer.Option(help="When to mail the digest, HH:MM Mexico City time.")
    ] = "07:00",
    smtp_host: SmtpHostOpt = "localhost",
    smtp_port: SmtpPortOpt = 587,
    smtp_from: SmtpFromOpt = "mechbus@localhost",
    smtp_user: SmtpUserOpt = None,
    http_listen: Annotated[
        str | None,
        typer.Option(
            "--http-listen",
            help="HOST:PORT serving /healthz, /readyz and /metrics (port 0: any free port, "
            "printed); 'off': none. Default 127.0.0.1:9464, or a free port (printed) while "
            "another process has that one.",
        ),
    ] = None,
    ready_max_pending: Annotated[
        int,
        typer.Option(
            min=0, help="/readyz fails while the hub has more messages than this to record."
        ),
    ] = 10_000,
    log_format: LogFormatOpt = LogFormat.TEXT,
    log_level: LogLevelOpt = LogLevel.INFO,
    trace: TraceOpt = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all: this home's hub alone on its ledger (refused while another holds it); "
            "hub: one of several hubs sharing --nats-url and --ledger-url, standing by until "
            "the active one's lease lapses, then taking over.",
        ),
    ] = "all",
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            min=1.0,
            help="Seconds the ledger's lease lasts unless renewed: a hub that stops is replaced "
            "this long after its last renewal.",
        ),
    ] = 5.0,
) -> None:
    """Run the hub and the deadline sweeper (and the embedded nats-server unless --nats-url)
    until Ctrl-C or SIGTERM; with --digest-to, mail the daily digest too. Logs go to stderr,
    what it says to its operator to stdout."""
    from adapters.cli.digest import digest_settings, hour, recipients
    from adapters.observability.http import DEFAULT_LISTEN, Listen
    from adapters.service.running import ROLE_ALL, ROLE_HUB, Up, UpError
    from adapters.settings import HubRunning

    settings = common.settings(home, nats_url, ledger_url)
    if role not in (ROLE_ALL, ROLE_HUB):
        raise typer.BadParameter(_("all or hub, not {role}").format(role=role), param_hint="--role")
    if role == ROLE_HUB and not settings.nats_url:
        raise typer.BadParameter(
            _(
                "hub needs --nats-url (or $MECHBUS_NATS_URL): the NATS servers every hub "
                "shares; an embedded server would be this process's alone"
            ),
            param_hint="--role",
        )
    daily = None
    if digest_to:
        at = hour(digest_at, "--digest-at")
        to = recipients(digest_to, "--digest-to")
        daily = digest_settings(settings, to, smtp_host, smtp_port, smtp_from, smtp_user, at)
    if listen is not None:
        settings = dataclasses.replace(settings, listen=listen)
    if retention_days is not None:
        settings = dataclasses.replace(settings, retention_days=retention_days)
    http = None
    if http_listen is None:  # the customary port, or a free one when another `up` has it
        http = dataclasses.replace(Listen.parse(DEFAULT_LISTEN, ready_max_pending), or_free=True)
    elif http_listen != "off":
        try:
            http = Listen.parse(http_listen, ready_max_pending)
        except ValueError:
            said = _("HOST:PORT or off, not {given}").format(given=http_listen)
            raise typer.BadParameter(said, param_hint="--http-listen") from None
    rules = common.policy(policy)
    runner = Up(
        settings,
        console,
        rules,
        sweep_interval=sweep_interval,
        cluster=cluster,
        digest=daily,
        http=http,
        role=role,
        lease_seconds=lease_seconds,
    )
    try:
        with common.observed("mechbus-hub", trace, log_format, log_level):
            asyncio.run(runner.run())
    except (HubRunning, UpError) as exc:
        raise common.fail(exc, 1) from None
    console.print(_("stopped cleanly"))


def sweep(
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """One pass of the deadline sweeper (``mechbus up`` runs it continuously)."""
    from adapters.ledger.obligations import SqlObligations
    from adapters.service import compose
    from adapters.service.actions import connect_as_hub
    from bus.domain.streams import StreamSpec
    from bus.runtime.sweeper import Sweeper
    from bus.runtime.transport import JetStreamTransport

    settings = common.settings(home, nats_url, ledger_url)
    rules = common.policy(policy)
    url = common.running_nats(settings)

    async def once() -> int:
        ledger = compose.open_ledger(settings)
        nc = await connect_as_hub(settings, url, "mechbus-sweep")
        try:
            sweeper = Sweeper(
                SqlObligations(ledger),
                JetStreamTransport(nc.jetstream(), StreamSpec().name),
                policy=rules,
                copy_ids=compose.copy_ids(settings),
            )
            return len(await sweeper.sweep_once())
        finally:
            await nc.drain()
            ledger.close()

    sent = asyncio.run(once())
    console.print(_("sent {count} escalation messages").format(count=sent))


@audit_app.command("verify")
def audit_verify(home: HomeOpt = None, ledger_url: LedgerOpt = None) -> None:
    """Walk the ledger's hash chain and name the first broken link (exit 1 if any)."""
    from adapters.service import compose

    ledger = compose.open_ledger(common.settings(home, ledger_url=ledger_url))
    try:
        checked, broken, head = ledger.verify_chain()
    finally:
        ledger.close()
    if broken is not None:
        said = _(
            "BROKEN at ledger row {seq} (message {id}): it {problem}; {checked} rows before it "
            "verified"
        )
        said = said.format(
            seq=broken.seq, id=broken.message_id, problem=broken.problem, checked=checked
        )
        console.print(f"[red]{said}[/]")
        raise typer.Exit(1)
    where = _("; head: row {row}, hash {hash}").format(row=head[0], hash=head[2]) if head else ""
    said = _("{checked} rows verified, chain intact").format(checked=checked)
    console.print(f"[green]{said}[/]{where}")


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
    from adapters.ledger.replay import ReplayError
    from adapters.ledger.replay import replay as replay_stream
    from adapters.ledger.store import SqlLedger
    from adapters.service import compose
    from adapters.service.actions import connect_as_hub

    settings = common.settings(home, nats_url, ledger_url)
    rules = common.policy(policy)
    url = common.running_nats(settings)

    async def rebuild(target: SqlLedger) -> ReplayReport:
        nc = await connect_as_hub(settings, url, "mechbus-replay")
        try:
            return await replay_stream(nc.jetstream(), target, policy=rules)
        finally:
            await nc.drain()

    target = SqlLedger(into, sealer=compose.sealer(settings), migrate=True)  # a new ledger
    try:
        report = asyncio.run(rebuild(target))
        counts = ", ".join(f"{n} {result}" for result, n in sorted(report.results.items()))
        said = _("replayed stream seq {first}..{last}: {read} messages ({counts}) into {url}")
        console.print(
            said.format(
                first=report.first_seq,
                last=report.last_seq,
                read=report.read,
                counts=counts or _("none"),
                url=repr(target.engine.url),
            )
        )
        if compare:
            _compare(compose.open_ledger(settings), target)
    except ReplayError as exc:
        said = _("replay refused: {reason}").format(reason=exc)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2) from None
    finally:
        target.close()


def _compare(live: SqlLedger, rebuilt: SqlLedger) -> None:
    """Say how the rebuilt ledger differs from the live one (exit 1 if it does)."""
    from adapters.ledger.replay import compare as compare_ledgers

    try:
        differences = compare_ledgers(live, rebuilt)
    finally:
        live.close()
    for d in differences:
        said = _(
            "{table}: live {live} rows, rebuilt {rebuilt}; {only_live} only in the live ledger, "
            "{only_rebuilt} only rebuilt"
        )
        said = said.format(
            table=d.table,
            live=d.live_rows,
            rebuilt=d.rebuilt_rows,
            only_live=d.only_live,
            only_rebuilt=d.only_rebuilt,
        )
        console.print(f"[red]{said}[/]")
    if differences:
        raise typer.Exit(1)
    said = _("the rebuilt ledger equals the live one, table for table")
    console.print(f"[green]{said}[/]")
