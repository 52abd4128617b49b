"""The ``mechbus`` command line (Typer + Rich): the command groups assembled into one app.

Each group lives in its own module and imports what is heavy (the ledger, NATS, the web
servers) inside the command that needs it, so that ``mechbus --help`` or ``mechbus pending``
start at once."""

from __future__ import annotations

import typer

from adapters.cli import (
    agency,
    aggressors,
    backup,
    board,
    bridge,
    common,
    contract,
    creds,
    dashboard,
    db,
    digest,
    dlq,
    federal,
    forecast,
    iachr,
    outbox,
    placements,
    running,
    search,
    send,
    tracking,
)

app = typer.Typer(
    help="mechbus: the coordination bus of the Protection Mechanism.", no_args_is_help=True
)


@app.callback()
def _language(
    lang: str | None = typer.Option(
        None,
        "--lang",
        metavar="es|en",
        help="Language of the output: es (the default) or en; also MECHBUS_LANG.",
    ),
) -> None:
    from adapters import environment, i18n

    i18n.use(environment.language(lang))


# Typer lists the commands in the order they are added, then the groups: kept as users know it.
app.command()(running.demo)
app.command()(running.up)
app.command()(tracking.requests)
app.command()(tracking.pending)
app.command("commitments")(tracking.commitments)
app.command()(tracking.case)
app.command()(aggressors.aggressor)
app.command()(tracking.scorecard)
app.command()(tracking.agenda)
app.command()(tracking.report)
app.command()(forecast.forecast)
app.command()(running.sweep)
app.command()(digest.digest)
app.command("shelters")(tracking.shelters)
app.command()(placements.relocate)
app.command()(running.replay)
app.command()(search.search)
app.command()(backup.backup)
app.command()(backup.restore)

app.add_typer(send.app, name="send")
app.add_typer(contract.schemas_app, name="schemas")
app.add_typer(board.app, name="board")
app.add_typer(iachr.app, name="iachr")
app.add_typer(federal.app, name="federal")
app.add_typer(db.app, name="db")
app.add_typer(contract.app, name="contract")
app.add_typer(dashboard.app, name="dashboard")
app.add_typer(placements.app, name="placements")
app.add_typer(agency.app, name="agency")
app.add_typer(creds.app, name="creds")
app.add_typer(bridge.app, name="bridge")
bridge.register(creds.app)  # mechbus creds token|webhook|email
app.add_typer(running.audit_app, name="audit")
running.audit_app.command("access")(search.audit_access)
db.app.command("reindex-people")(search.reindex_people)
app.add_typer(outbox.app, name="outbox")
app.add_typer(dlq.app, name="dlq")


def main() -> None:
    from adapters import environment
    from bus.domain.errors import ConfigurationError, LedgerError

    try:
        environment.install_registry()  # what every message is validated against, here
        app()
    except LedgerError as exc:  # e.g. a ledger never upgraded: say what to run, no traceback
        common.console.print(str(exc), style="red", markup=False)
        raise SystemExit(1) from None
    except ConfigurationError as exc:  # e.g. a key from the environment, checked when used
        common.console.print(str(exc), style="red", markup=False)
        raise SystemExit(2) from None
