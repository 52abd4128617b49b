"""``mechbus dashboard``: serve the staff dashboard; ``dashboard user ...``: its accounts."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import (
    CsvOpt,
    HomeOpt,
    JsonOpt,
    LedgerOpt,
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
from adapters.dashboard.roles import Role
from adapters.i18n import N_, _
from adapters.observability.logs import LogFormat, LogLevel
from adapters.output import Column
from adapters.paging import Page
from adapters.readmodel.columns import code_word

app = typer.Typer(
    help="The federal staff dashboard (web): serve it, manage its accounts.",
    invoke_without_command=True,
)
user_app = typer.Typer(help="Staff accounts of the dashboard.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.callback()
def serve(
    ctx: typer.Context,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8400,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    behind_tls_proxy: Annotated[
        bool,
        typer.Option(help="A TLS proxy is in front: cookies are marked Secure all the same."),
    ] = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
    log_format: LogFormatOpt = LogFormat.TEXT,
    log_level: LogLevelOpt = LogLevel.INFO,
    trace: TraceOpt = None,
) -> None:
    """Serve the dashboard until Ctrl-C (actions need `mechbus up` running on this home)."""
    from adapters.service import compose

    if ctx.invoked_subcommand is not None:
        return
    check_tls_pair(tls_cert, tls_key)
    import uvicorn

    from adapters.dashboard.app import create_app
    from adapters.dashboard.auth import Accounts

    settings = common.settings(home, ledger_url=ledger_url)
    secure = tls_cert is not None or behind_tls_proxy
    web = create_app(settings, secure_cookies=secure)
    config = uvicorn.Config(
        web,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=behind_tls_proxy,
        # live pages hold an event stream open; do not wait for them at Ctrl-C
        timeout_graceful_shutdown=2,
        log_config=None,  # uvicorn's loggers go through this process's (--log-format)
        log_level=log_level.value,
    )
    sock = bound_socket(host, port, tls_cert, "dashboard", "/")
    ledger = compose.open_ledger(settings)
    try:
        if not Accounts(ledger).users():
            said = _("no accounts yet: `mechbus dashboard user add NAME --role`")
            console.print(f"[yellow]{said}[/]")
    finally:
        ledger.close()
    with (
        common.observed("mechbus-dashboard", trace, log_format, log_level),
        contextlib.suppress(KeyboardInterrupt),  # Ctrl-C: uvicorn has stopped cleanly
    ):
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[
        Role, typer.Option(help="viewer: reads; operator: + actions; caseworker: + personal.")
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Create a staff account (the password is asked twice, or read from stdin)."""
    from adapters.dashboard.auth import AccountError, Accounts
    from adapters.service import compose

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    ledger = compose.open_ledger(common.settings(home, ledger_url=ledger_url))
    try:
        Accounts(ledger).add(name, role, password)
    except AccountError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    finally:
        ledger.close()
    said = _("account {name} created ({role})")
    console.print(said.format(name=name, role=code_word(role.value)))


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="The login name.")],
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Disable an account (its open sessions stop working at their next request)."""
    from adapters.dashboard.auth import Accounts
    from adapters.service import compose

    ledger = compose.open_ledger(common.settings(home, ledger_url=ledger_url))
    try:
        found = Accounts(ledger).disable(name)
    finally:
        ledger.close()
    if not found:
        said = _("no account named {name}").format(name=name)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    console.print(_("account {name} disabled").format(name=name))


def _word(value: object) -> str:
    return _(str(value))  # enabled, disabled, ok, REFUSED: msgids of their own


# --json keeps these keys and codes; tables and CSV files show the labels and the codes in words
USER_COLUMNS = [
    Column("name", lambda u: u.name, N_("Account")),
    Column("role", lambda u: u.role, N_("Role"), code_word),
    Column("state", lambda u: "disabled" if u.disabled else "enabled", N_("State"), _word),
    Column("created", lambda u: u.created_at, N_("Created")),
]
LOGIN_COLUMNS = [
    Column("at", lambda row: row.at, N_("When")),
    Column("name", lambda row: row.name, N_("Account")),
    Column("outcome", lambda row: "ok" if row.success else "REFUSED", N_("Outcome"), _word),
    Column("reason", lambda row: row.reason, N_("Reason")),
    Column("client", lambda row: row.client, N_("Client")),
]


@user_app.command("list")
def user_list(
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Every account, its role and whether it is enabled."""
    from adapters.dashboard.auth import Accounts

    with common.reading(common.settings(home, ledger_url=ledger_url)) as ledger:
        rows = Accounts(ledger).users()
    if as_json or as_csv:
        common.show(rows, USER_COLUMNS, as_json, as_csv, "Dashboard accounts")
        return
    for row in rows:
        state = _("disabled") if row.disabled else _("enabled")
        role = code_word(row.role)
        typer.echo(f"{row.name}\t{role}\t{state}\t{row.created_at:%Y-%m-%d}")


@user_app.command("logins")
def user_logins(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (the next page).")] = 0,
    every: Annotated[bool, typer.Option("--all", help="Every attempt, however many.")] = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The login audit trail: every attempt, successful or not, newest first, a page at a
    time (said on stderr when more follow)."""
    from adapters.dashboard.auth import Accounts

    page = Page(None if every else limit, offset)
    with common.reading(common.settings(home, ledger_url=ledger_url)) as ledger:
        fetched = Accounts(ledger).logins(page.fetch, page.offset)
    if as_json or as_csv:
        common.show(fetched, LOGIN_COLUMNS, as_json, as_csv, "Dashboard logins", shown=page)
        return
    rows, cut = page.cut(fetched)
    for row in rows:
        outcome = _("ok") if row.success else _("REFUSED")
        typer.echo(
            f"{row.at:%Y-%m-%d %H:%M:%S} UTC\t{row.name}\t{outcome}\t{row.reason}\t"
            f"{row.client or '-'}"
        )
    if cut:
        typer.echo(page.more(len(rows)), err=True)
