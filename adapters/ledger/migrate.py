"""The ledger's schema migrations (Alembic), run on the ledger's own engine; no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, inspect, text

from adapters.ledger.schema import LedgerNotReady as LedgerNotReady
from adapters.ledger.schema import SchemaError as SchemaError

MIGRATIONS = Path(__file__).with_name("migrations")
# The schema that SQLModel's create_all made before there were migrations.
BASELINE = "0001"
# Any fixed key will do: it only has to be the same in every mechbus process.
_PG_LOCK_KEY = 0x6D656368


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code; env.py migrates ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this version of mechbus knows."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    assert found is not None, "no migration scripts shipped"
    return found


def current(engine: Engine) -> str | None:
    """The ledger's revision, or None when it is empty or predates migrations."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the ledger to ``revision`` in one transaction; return the revision it is at.

    A ledger made by create_all before migrations existed is checked against the baseline and
    stamped with it, keeping its rows.
    """
    scripts = ScriptDirectory.from_config(config())
    target = scripts.get_current_head() if revision == "head" else revision
    found = current(engine)
    if found == target:
        # The usual start: a plain read, so a view opened while the hub writes (or on a
        # read-only copy) neither waits for nor needs the write lock.
        return found
    with engine.begin() as connection:
        _exclusive(connection)
        found = MigrationContext.configure(connection).get_current_revision()  # again, locked
        if found is not None:
            _known(scripts, found)
        elif _adopt(connection):
            command.stamp(config(connection), BASELINE)
            found = BASELINE
        if found == target:
            return found
        command.upgrade(config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision()


def _exclusive(connection: Connection) -> None:
    # Two processes starting at once (the hub and a CLI command) must not both find an empty
    # ledger and both create it: the second waits, then finds the work done.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # pysqlite opens no transaction before DDL, so each CREATE would commit on its own;
        # this makes the whole upgrade one transaction holding the write lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _known(scripts: ScriptDirectory, revision: str) -> None:
    try:
        scripts.get_revision(revision)
    except CommandError:
        raise SchemaError(
            f"the ledger is at schema revision {revision!r}, which this mechbus does not know "
            f"(its newest is {scripts.get_current_head()!r}); was it upgraded by a newer one?"
        ) from None


def _adopt(connection: Connection) -> bool:
    """True when the database holds a create_all ledger (to be stamped), False when empty."""
    baseline = _baseline_columns()
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    if not present & baseline.keys():
        return False
    missing = sorted(baseline.keys() - present)
    for table in sorted(present & baseline.keys()):
        columns = {c["name"] for c in inspector.get_columns(table)}
        missing += [f"{table}.{name}" for name in sorted(baseline[table] - columns)]
    if missing:
        # Stamping would claim a schema that is not there, and the first insert would fail.
        raise SchemaError(
            f"the ledger predates migrations and lacks part of revision {BASELINE}: "
            f"{', '.join(missing)}; it was made by an older mechbus: add these by hand or "
            "rebuild the ledger, then run `mechbus db upgrade`"
        )
    return True


def _baseline_columns() -> dict[str, set[str]]:
    """Each table of the baseline revision with its columns, read from a scratch database."""
    # Running the revision itself, rather than reading tables.py, stays right when later
    # revisions change the models.
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as connection:
            command.upgrade(config(connection), BASELINE)
            inspector = inspect(connection)
            return {
                table: {c["name"] for c in inspector.get_columns(table)}
                for table in inspector.get_table_names()
                if table != "alembic_version"
            }
    finally:
        scratch.dispose()
