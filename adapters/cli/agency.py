"""``mechbus agency run``: one simulated agency, in its own process, for trials."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import HomeOpt, LogFormatOpt, LogLevelOpt, NatsOpt
from adapters.i18n import _
from adapters.observability.logs import LogFormat, LogLevel

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
    log_format: LogFormatOpt = LogFormat.TEXT,
    log_level: LogLevelOpt = LogLevel.INFO,
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
    python, *program = stub_command(settings, agency, url, profile, seed, text)
    # The stub is a program of its own (it cannot import adapters/): it is started through
    # the logging setup every mechbus process shares.
    logged = ["-m", "adapters.observability.logs", log_format.value, log_level.value]
    os.execv(python, [python, *logged, *program[1:]])  # Ctrl-C reaches the stub directly
