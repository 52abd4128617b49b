"""``mechbus creds``: the deployment's NATS credentials for the agencies, and its TLS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import HomeOpt
from adapters.i18n import _

if TYPE_CHECKING:
    from adapters.natsserver.credentials import CredentialStore
    from adapters.settings import Settings

app = typer.Typer(help="NATS credentials for the agencies.", no_args_is_help=True)


def _store(home: Path | None) -> CredentialStore:
    from adapters.natsserver.credentials import CredentialStore

    return CredentialStore(common.settings(home).creds_dir)


@app.command("init")
def creds_init(home: HomeOpt = None) -> None:
    """Create the deployment's credential store (and the hub's own key)."""
    store = _store(home)
    store.init()
    console.print(_("credential store ready in {directory}").format(directory=store.directory))


@app.command("issue")
def creds_issue(
    agency: Annotated[str, typer.Argument(help="Agency id from the registry.")],
    home: HomeOpt = None,
) -> None:
    """Write the agency's credentials (a new key; any older one stops working).

    Hand the seed file to the agency over a secure channel. A running ``mechbus up`` on this
    home applies it at once (its server reloads; nobody else is disconnected).
    """
    from adapters.natsserver.credentials import CredentialError, CredentialStore

    settings = common.settings(home)
    store = CredentialStore(settings.creds_dir)
    store.init()  # the first issue sets the store up
    try:
        path = store.issue(agency)
    except CredentialError as exc:
        raise common.fail(exc) from None
    console.print(_("wrote {path} (keep it secret)").format(path=path))
    _apply_credentials(settings)


@app.command("revoke")
def creds_revoke(
    agency: Annotated[str, typer.Argument(help="Agency id.")],
    home: HomeOpt = None,
) -> None:
    """Withdraw an agency's credentials; a running ``mechbus up`` on this home cuts it off at
    once."""
    from adapters.natsserver.credentials import CredentialError, CredentialStore

    settings = common.settings(home)
    try:
        CredentialStore(settings.creds_dir).revoke(agency)
    except CredentialError as exc:
        raise common.fail(exc) from None
    console.print(_("revoked {agency}").format(agency=agency))
    _apply_credentials(settings)


def _apply_credentials(settings: Settings) -> None:
    from adapters.service.running import UpError, apply_to_running_up

    try:
        pid = apply_to_running_up(settings)
    except (UpError, OSError) as exc:
        said = _("not yet in effect: {reason}").format(reason=exc)
        console.print(f"[red]{said}[/]")
        raise typer.Exit(1) from None
    if pid is None:
        console.print(_("no `mechbus up` runs on this home: the next one applies it"))
    else:
        console.print(_("in effect on the running server (mechbus up, pid {pid})").format(pid=pid))


@app.command("authorization")
def creds_authorization(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write it to this file (replaced whole, never half-written); else print."
        ),
    ] = None,
    home: HomeOpt = None,
) -> None:
    """The nats-server ``authorization`` block of this home's credentials (the federal users
    included, issued if missing), for servers run apart: include it in each node's config and
    reload them. Holds public keys only."""
    from adapters.natsserver.credentials import CredentialError
    from adapters.service.embedded import authorization

    try:
        block = authorization(common.settings(home))
    except CredentialError as exc:
        raise common.fail(exc) from None
    if out is None:
        typer.echo(block, nl=False)
        return
    partial = out.with_name(f".{out.name}.tmp")
    partial.write_text(block, encoding="utf-8")
    partial.replace(out)  # a server reloading now reads the old file or the new, whole
    console.print(_("wrote {path}").format(path=out))


@app.command("tls")
def creds_tls(
    host: Annotated[
        list[str] | None, typer.Option(help="Host names or addresses the server answers on.")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Make a development CA and server certificate; the embedded server then requires TLS.

    For a real deployment use certificates from the institution's own CA.
    """
    from adapters.natsserver.tls import make_development_tls

    settings = common.settings(home)
    files = make_development_tls(
        settings.tls_files.ca.parent, tuple(host or ("localhost", "127.0.0.1"))
    )
    said = _("wrote {ca}, {cert} and {key}; restart `mechbus up`")
    console.print(said.format(ca=files.ca, cert=files.cert, key=files.key))


@app.command("list")
def creds_list(home: HomeOpt = None) -> None:
    """Agencies holding credentials, with their public keys."""
    from adapters.natsserver.credentials import CredentialError

    try:
        issued = _store(home).issued()
    except CredentialError as exc:
        raise common.fail(exc) from None
    for agency, public in sorted(issued.items()):
        console.print(f"{agency}  {public}")
