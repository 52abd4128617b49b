"""``mechbus db``: the ledger's schema migrations (upgrade, current) and rebuilding what is derived
from its rows (the scorecard's figures by day and month; the people's index: ``search``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adapters.cli.options import DbUrlOpt, HomeOpt, JsonOpt, LedgerOpt
from adapters.i18n import _
from adapters.output import make_console

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="The ledger's schema (Alembic migrations).", no_args_is_help=True)
console = make_console(highlight=False)


def _engine(home: Path | None, url: str | None) -> Engine:
    from adapters.ledger.store import make_engine
    from adapters.settings import SettingsError, load_settings

    try:
        settings = load_settings(home=home, ledger_url=url)
    except SettingsError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    return make_engine(settings.ledger_url, pool=settings.pool)


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@app.command("upgrade")
def db_upgrade(url: DbUrlOpt = None, home: HomeOpt = None) -> None:
    """Create the ledger's schema or migrate it to the newest revision.

    A ledger made by create_all before migrations existed is adopted with its rows.
    """
    from sqlalchemy.exc import OperationalError

    from adapters.ledger.migrate import SchemaError, current, upgrade

    engine = _engine(home, url)
    try:
        before = current(engine)
        after = upgrade(engine)
    except SchemaError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    except OperationalError as exc:
        said = _("cannot reach the ledger at {where}: {reason}")
        console.print(f"[red]{said.format(where=_where(engine), reason=exc.orig)}[/]")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    change = (
        _("already there")
        if before == after
        else _("was {revision}").format(revision=before or _("none"))
    )
    said = _("ledger {where} at revision {revision} ({change})")
    console.print(said.format(where=_where(engine), revision=after, change=change))


@app.command("current")
def db_current(url: DbUrlOpt = None, home: HomeOpt = None) -> None:
    """The ledger's schema revision, and whether it is the newest this mechbus knows."""
    from sqlalchemy.exc import OperationalError

    from adapters.ledger.migrate import current, head

    engine = _engine(home, url)
    try:
        found = current(engine)
    except OperationalError as exc:
        said = _("cannot reach the ledger at {where}: {reason}")
        console.print(f"[red]{said.format(where=_where(engine), reason=exc.orig)}[/]")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    newest = head()
    if found == newest:
        console.print(_("{revision} (head)").format(revision=found))
    else:
        said = _("{revision} (head is {newest}: run `mechbus db upgrade`)")
        console.print(said.format(revision=found or _("none"), newest=newest))


@app.command("rebuild-aggregates")
def db_rebuild_aggregates(
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Derive the scorecard's figures by day and month again from every request and commitment:
    for a ledger written around the hub (a bulk load, a repair by hand). The hub keeps them."""
    import json

    from adapters.cli import common
    from adapters.ledger.aggregates import rebuild

    # The hub adds to the figures as it records: a rebuild meanwhile could miss its share.
    written = common.with_the_hub_stopped(home, ledger_url, lambda _l, session: rebuild(session))
    if as_json:
        print(json.dumps({"rows": written}))
    else:
        console.print(_("%(rows)d rows of scorecard figures rebuilt.") % {"rows": written})
