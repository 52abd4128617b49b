"""``mechbus agency run``: one simulated agency, in its own process, for trials."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import HomeOpt, NatsOpt
from adapters.i18n import _

app = typer.Typer(help="Simulated agencies for trials.", no_args_is_help=True)


@app.command("run")
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
    from adapters.service.stubs import stub_command

    settings = common.settings(home, nats_url)
    url = common.running_nats(settings)
    if settings.creds_dir.exists() and settings.creds_for(agency) is None:
        said = _("no credentials for {agency}: run `mechbus creds issue {agency}`")
        console.print(f"[red]{said.format(agency=agency)}[/]")
        raise typer.Exit(2)
    text = capacity.read_text(encoding="utf-8") if capacity is not None else None
    args = stub_command(settings, agency, url, profile, seed, text)
    os.execv(sys.executable, args)  # the stub replaces this process: Ctrl-C reaches it directly
