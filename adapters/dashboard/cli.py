"""``mechbus dashboard``: serve the dashboard; ``dashboard user ...``: staff accounts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from adapters.dashboard.app import create_app
from adapters.dashboard.auth import AccountError, Accounts, Role
from adapters.output import make_console
from adapters.paging import Page
from adapters.service import compose
from adapters.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="The federal staff dashboard (web): serve it, manage its accounts.",
    invoke_without_command=True,
)
user_app = typer.Typer(help="Staff accounts of the dashboard.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = make_console()

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="State directory (default: $MECHBUS_HOME or the user data dir)."),
]
LedgerOpt = Annotated[
    str | None,
    typer.Option("--ledger-url", help="SQLAlchemy URL of the ledger (default: SQLite in home)."),
]


def _settings(home: Path | None, ledger_url: str | None) -> Settings:
    try:
        return load_settings(home=home, ledger_url=ledger_url)
    except SettingsError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port, printed).")] = 8400,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's private key.")] = None,
    behind_tls_proxy: Annotated[
        bool,
        typer.Option(help="A TLS proxy is in front: cookies are marked Secure all the same."),
    ] = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Serve the dashboard until Ctrl-C (actions need `mechbus up` running on this home)."""
    if ctx.invoked_subcommand is not None:
        return
    if (tls_cert is None) != (tls_key is None):
        console.print("[red]give both --tls-cert and --tls-key, or neither[/]")
        raise typer.Exit(2)
    settings = _settings(home, ledger_url)
    secure = tls_cert is not None or behind_tls_proxy
    web = create_app(settings, secure_cookies=secure)
    config = uvicorn.Config(
        web,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=behind_tls_proxy,
        # live pages hold an event stream open; do not wait for them at Ctrl-C
        timeout_graceful_shutdown=2,
        log_level="info",
    )
    # Bound here so that port 0 can be printed before serving (tests start it that way).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    scheme = "https" if tls_cert else "http"
    console.print(f"dashboard on {scheme}://{host}:{sock.getsockname()[1]}/ ; Ctrl-C stops")
    ledger = compose.open_ledger(settings)
    try:
        if not Accounts(ledger).users():
            console.print("[yellow]no accounts yet: `mechbus dashboard user add NAME --role`[/]")
    finally:
        ledger.close()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has stopped cleanly
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
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    ledger = compose.open_ledger(_settings(home, ledger_url))
    try:
        Accounts(ledger).add(name, role, password)
    except AccountError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    finally:
        ledger.close()
    console.print(f"account {name} created ({role.value})")


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="The login name.")],
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Disable an account (its open sessions stop working at their next request)."""
    ledger = compose.open_ledger(_settings(home, ledger_url))
    try:
        found = Accounts(ledger).disable(name)
    finally:
        ledger.close()
    if not found:
        console.print(f"[red]no account named {name}[/]")
        raise typer.Exit(2)
    console.print(f"account {name} disabled")


@user_app.command("list")
def user_list(home: HomeOpt = None, ledger_url: LedgerOpt = None) -> None:
    """Every account, its role and whether it is enabled."""
    ledger = compose.open_ledger(_settings(home, ledger_url))
    try:
        for row in Accounts(ledger).users():
            state = "disabled" if row.disabled else "enabled"
            typer.echo(f"{row.name}\t{row.role}\t{state}\t{row.created_at:%Y-%m-%d}")
    finally:
        ledger.close()


@user_app.command("logins")
def user_logins(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (the next page).")] = 0,
    every: Annotated[bool, typer.Option("--all", help="Every attempt, however many.")] = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """The login audit trail: every attempt, successful or not, newest first, a page at a
    time (said on stderr when more follow)."""
    page = Page(None if every else limit, offset)
    ledger = compose.open_ledger(_settings(home, ledger_url))
    try:
        rows, cut = page.cut(Accounts(ledger).logins(page.fetch, page.offset))
        for row in rows:
            outcome = "ok" if row.success else "REFUSED"
            typer.echo(
                f"{row.at:%Y-%m-%d %H:%M:%S} UTC\t{row.name}\t{outcome}\t{row.reason}\t"
                f"{row.client or '-'}"
            )
        if cut:
            typer.echo(page.more(len(rows)), err=True)
    finally:
        ledger.close()
