"""Alembic's environment: migrates the connection that adapters.ledger.migrate hands over."""

from alembic import context
from sqlmodel import SQLModel

import adapters.ledger.tables  # noqa: F401  (registers the ledger's tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    # No alembic.ini and no URL of our own: the ledger's engine (pool, SQLite pragmas,
    # PostgreSQL search_path) is the only one that should ever touch the schema.
    raise RuntimeError(
        "migrate the ledger with adapters.ledger.migrate.upgrade or `mechbus db upgrade`; "
        "offline (--sql) mode is not supported"
    )

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,  # for autogenerate and compare_metadata
    # SQLite can ALTER almost nothing; batch mode recreates the table and copies its rows.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
