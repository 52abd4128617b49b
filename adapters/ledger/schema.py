"""Which schema revision a ledger is at, checked without loading Alembic: opening a ledger for a
read must be quick, and only ``mechbus db upgrade`` and the processes that own a ledger migrate
it (adapters.ledger.migrate)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

from bus.domain.errors import LedgerError

VERSIONS = Path(__file__).with_name("migrations") / "versions"
# The newest revision this mechbus ships; tests/test_migrations.py checks it is Alembic's head.
HEAD = "0015"


class SchemaError(LedgerError, RuntimeError):
    """The ledger's schema is not one this version of mechbus can migrate."""


class LedgerNotReady(SchemaError):
    """The ledger's schema is missing or older than this mechbus: ``mechbus db upgrade`` first."""


def known_revisions() -> set[str]:
    """Every revision shipped, by the file names of the migration scripts (``NNNN_slug.py``)."""
    return {path.name.split("_", 1)[0] for path in VERSIONS.glob("[0-9]*_*.py")}


def revision_of(engine: Engine) -> str | None:
    """The ledger's revision, or None when it is empty or predates migrations."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(found) if found is not None else None


def require_head(engine: Engine) -> str:
    """The ledger's revision when it is the newest this mechbus knows; else ``LedgerNotReady``
    (missing or older: upgrade it) or ``SchemaError`` (newer than this mechbus). Nothing is
    changed: only ``mechbus db upgrade`` and the processes that own a ledger migrate it."""
    found = revision_of(engine)
    if found == HEAD:
        return found
    if found is not None and found not in known_revisions():
        raise SchemaError(
            f"the ledger is at schema revision {found!r}, which this mechbus does not know "
            f"(its newest is {HEAD!r}); was it upgraded by a newer one?"
        )
    where = engine.url.render_as_string(hide_password=True)
    raise LedgerNotReady(
        f"the ledger at {where} is at schema revision {found or 'none'}, and this mechbus needs "
        f"revision {HEAD}: run `mechbus db upgrade` (with the same --home or --ledger-url)"
    )
