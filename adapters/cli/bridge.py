"""``mechbus bridge``: serve the HTTP bridge (with its webhook dispatcher and email notices);
``mechbus bridge openapi``: write its OpenAPI document; ``mechbus creds token|webhook|email``:
what the bridge knows of each agency."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from adapters.bridge.store import BridgeStore, BridgeStoreError  # light: files and hashes
from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import (
    BridgeLedgerOpt,
    BridgeNatsOpt,
    HomeOpt,
    LogFormatOpt,
    LogLevelOpt,
    TraceOpt,
)
from adapters.cli.serving import (
    HostOpt,
    PortOpt,
    TlsCertOpt,
    TlsKeyOpt,
    bound_socket,
    check_tls_pair,
)
from adapters.i18n import _
from adapters.observability.logs import LogFormat, LogLevel

OPENAPI_PATH = Path("docs/contract/openapi.json")
app = typer.Typer(
    help="The HTTP bridge for agencies without a NATS client: serve it, export its OpenAPI.",
    invoke_without_command=True,
)
token_app = typer.Typer(help="Bearer tokens of the HTTP bridge.", no_args_is_help=True)
webhook_app = typer.Typer(help="Agencies' webhooks (HTTPS endpoints).", no_args_is_help=True)
email_app = typer.Typer(help="Where an agency's email notices go.", no_args_is_help=True)
AgencyArg = Annotated[str, typer.Argument(help="Agency id from the registry.")]


def register(creds: typer.Typer) -> None:
    """What the bridge knows of each agency, under ``mechbus creds``."""
    creds.add_typer(token_app, name="token")
    creds.add_typer(webhook_app, name="webhook")
    creds.add_typer(email_app, name="email")


def _store(home: Path | None) -> BridgeStore:
    return BridgeStore(common.settings(home).creds_dir)


@app.callback()
def serve(
    ctx: typer.Context,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8500,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    nats_url: BridgeNatsOpt = None,
    webhooks: Annotated[
        bool, typer.Option(help="POST agencies' inboxes to their registered webhooks.")
    ] = True,
    webhook_timeout: Annotated[float, typer.Option(help="Seconds per webhook POST.")] = 10.0,
    webhook_ca: Annotated[
        Path | None, typer.Option(help="Trust this CA for webhooks (default: the system's).")
    ] = None,
    smtp_host: Annotated[
        str | None, typer.Option(help="Mail escalation rungs through this SMTP server.")
    ] = None,
    smtp_port: Annotated[int, typer.Option(help="SMTP port.")] = 587,
    smtp_from: Annotated[str, typer.Option(help="Sender address.")] = "mechbus@localhost",
    smtp_user: Annotated[
        str | None, typer.Option(help="SMTP login; the password from $MECHBUS_SMTP_PASSWORD.")
    ] = None,
    link_base: Annotated[
        str, typer.Option(help="The bridge's public URL, for the links in emails.")
    ] = "",
    home: HomeOpt = None,
    ledger_url: BridgeLedgerOpt = None,
    log_format: LogFormatOpt = LogFormat.TEXT,
    log_level: LogLevelOpt = LogLevel.INFO,
    trace: TraceOpt = None,
) -> None:
    """Serve the bridge until Ctrl-C, with the webhook dispatcher and, given --smtp-host, the
    email notices. Agencies need a token (`mechbus creds token issue`)."""
    from adapters.service import compose

    if ctx.invoked_subcommand is not None:
        return
    check_tls_pair(tls_cert, tls_key)
    import ssl

    import uvicorn

    from adapters.bridge.app import create_app
    from adapters.bridge.notices import EmailNotifier, SmtpSettings
    from adapters.bridge.publisher import NatsPublisher
    from adapters.bridge.webhooks import WebhookDispatcher
    from bus.domain.permissions import BRIDGE

    settings = common.settings(home, nats_url, ledger_url)
    creds = settings.creds_for(BRIDGE)
    if creds is None and (settings.creds_dir / "users.json").exists():
        said = _(
            "{bridge} holds no NATS credentials: `mechbus creds issue {bridge}` and restart "
            "`mechbus up`, or every post will answer 503"
        )
        console.print(f"[yellow]{said.format(bridge=BRIDGE)}[/]")
    url = settings.running_nats_url()
    store = BridgeStore(settings.creds_dir)
    ledger = compose.open_ledger(settings)
    publisher = NatsPublisher(url, creds=creds, tls=compose.tls_context(settings))
    web = create_app(ledger, store, publisher)
    config = uvicorn.Config(
        web,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_config=None,  # uvicorn's loggers go through this process's (--log-format)
        log_level=log_level.value,
    )
    sock = bound_socket(host, port, tls_cert, "bridge", "/v1")
    dispatcher = None
    if webhooks and url:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(webhook_ca)) if webhook_ca else True
        )
        dispatcher = WebhookDispatcher(
            url,
            store,
            ledger,
            creds_for=settings.creds_for,
            nats_tls=compose.tls_context(settings),
            verify=verify,
            timeout=webhook_timeout,
        )
    notifier = None
    if smtp_host:
        smtp = SmtpSettings(
            smtp_host,
            smtp_port,
            smtp_from,
            username=smtp_user,
            password=settings.smtp_password,
        )
        notifier = EmailNotifier(ledger, store, smtp, link_base=link_base)

    async def run() -> None:
        stopping = asyncio.Event()
        helpers: list[asyncio.Task[None]] = []
        if dispatcher is not None:
            await dispatcher.start()
            helpers.append(asyncio.create_task(dispatcher.watch()))
        if notifier is not None:
            helpers.append(asyncio.create_task(notifier.run(stopping=stopping)))
        try:
            await uvicorn.Server(config).serve(sockets=[sock])
        finally:
            stopping.set()
            if dispatcher is not None:
                await dispatcher.stop()
            for task in helpers:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            ledger.close()

    with (
        common.observed("mechbus-bridge", trace, log_format, log_level),
        contextlib.suppress(KeyboardInterrupt),
    ):
        asyncio.run(run())


@app.command("openapi")
def openapi(
    out: Annotated[Path, typer.Option(help="Where to write it.")] = OPENAPI_PATH,
) -> None:
    """Write the bridge's OpenAPI document (committed beside the AsyncAPI one)."""
    from adapters.bridge.app import create_app, openapi_document

    document = openapi_document(create_app(None, None, None))  # type: ignore[arg-type]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document, encoding="utf-8")
    console.print(_("wrote {path}").format(path=out))


@token_app.command("issue")
def token_issue(agency: AgencyArg, home: HomeOpt = None) -> None:
    """A new bearer token for AGENCY, printed once (only its hash is kept); the previous one
    stops working at once."""
    try:
        token = _store(home).issue_token(agency)
    except BridgeStoreError as exc:
        raise common.fail(exc) from None
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(agency: AgencyArg, home: HomeOpt = None) -> None:
    """Revoke AGENCY's token (at once: the bridge reads the store on every call)."""
    try:
        _store(home).revoke_token(agency)
    except BridgeStoreError as exc:
        raise common.fail(exc) from None
    console.print(_("revoked {agency}'s bridge token").format(agency=agency))


@token_app.command("list")
def token_list(home: HomeOpt = None) -> None:
    """Agencies holding a token: when issued, and whether revoked."""
    for agency, entry in sorted(_store(home).tokens().items()):
        revoked = entry.get("revoked_at")
        state = _("revoked {at}").format(at=revoked) if revoked else _("active")
        issued = _("issued {at}").format(at=entry["issued_at"])
        typer.echo(f"{agency}\t{issued}\t{state}")


@webhook_app.command("set")
def webhook_set(
    agency: AgencyArg,
    url: Annotated[str, typer.Argument(help="The agency's HTTPS endpoint.")],
    home: HomeOpt = None,
) -> None:
    """Register AGENCY's webhook; prints the signing secret (a new one each time)."""
    try:
        secret = _store(home).set_webhook(agency, url)
    except BridgeStoreError as exc:
        raise common.fail(exc) from None
    typer.echo(secret)


@webhook_app.command("remove")
def webhook_remove(agency: AgencyArg, home: HomeOpt = None) -> None:
    """Stop POSTing AGENCY's requests."""
    try:
        _store(home).remove_webhook(agency)
    except BridgeStoreError as exc:
        raise common.fail(exc) from None
    console.print(_("removed {agency}'s webhook").format(agency=agency))


@email_app.command("set")
def email_set(
    agency: AgencyArg,
    address: Annotated[str, typer.Argument(help="Where reminders and escalations go.")],
    home: HomeOpt = None,
) -> None:
    """Send AGENCY's reminders and escalations (no personal data) to ADDRESS."""
    try:
        _store(home).set_email(agency, address)
    except BridgeStoreError as exc:
        raise common.fail(exc) from None
    console.print(_("{agency}'s notices go to {address}").format(agency=agency, address=address))
