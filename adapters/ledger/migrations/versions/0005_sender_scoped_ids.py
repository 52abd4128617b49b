"""Message ids scoped by their sender, and every recipient's copy or resend accounted for.

``messages.message_id`` was unique across senders, so one agency could make another's message
a duplicate by using its id first. The key becomes (source, message_id); a digest of each
message without its personal details lets the hub tell another recipient's copy of a federal
message from a different message under the same id; ``message_copies`` keeps the stream
sequences that carried a message already recorded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GLOBAL = "uq_messages_message_id"
_UNIQUE = "uq_messages_source_message_id"
_INDEX = "ix_messages_message_id"


def upgrade() -> None:
    # What is done depends on what is there: a ledger adopted from create_all may already have
    # the current shape of ``messages`` (see adapters.ledger.migrate).
    shape = sa.inspect(op.get_bind())
    columns = {c["name"] for c in shape.get_columns("messages")}
    uniques = shape.get_unique_constraints("messages")
    global_ids = [u for u in uniques if u["column_names"] == ["message_id"]]
    scoped = any(u["column_names"] == ["source", "message_id"] for u in uniques)
    indexed = any(i["name"] == _INDEX for i in shape.get_indexes("messages"))
    digest = sa.Column("content_sha256", sa.String(length=64), nullable=False, server_default="")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "messages", recreate="always", copy_from=_sqlite_messages()
        ) as batch:
            for _ in global_ids:
                batch.drop_constraint(_GLOBAL, type_="unique")
            if "content_sha256" not in columns:
                batch.add_column(digest)
            if not scoped:
                batch.create_unique_constraint(_UNIQUE, ["source", "message_id"])
            if not indexed:
                batch.create_index(_INDEX, ["message_id"], unique=False)
        if "content_sha256" not in columns:
            # The default filled only the rows already there; the models declare none.
            with op.batch_alter_table("messages", recreate="always") as batch:
                batch.alter_column("content_sha256", server_default=None)
    else:
        for unique in global_ids:
            op.drop_constraint(unique["name"] or _GLOBAL, "messages", type_="unique")
        if "content_sha256" not in columns:
            op.add_column("messages", digest)
            op.alter_column("messages", "content_sha256", server_default=None)
        if not scoped:
            op.create_unique_constraint(_UNIQUE, "messages", ["source", "message_id"])
        if not indexed:
            op.create_index(_INDEX, "messages", ["message_id"], unique=False)
    op.create_table(
        "message_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("nats_subject", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stream_seq"),
    )
    op.create_index("ix_message_copies_message_id", "message_copies", ["message_id"], unique=False)


def _sqlite_messages() -> sa.Table:
    """``messages`` as SQLite has it, with a name on the unique message_id constraint (SQLite
    keeps 0001's unnamed) so that batch mode can drop that one and leave the others alone."""
    table = sa.Table("messages", sa.MetaData(), autoload_with=op.get_bind())
    for constraint in table.constraints:
        names = [c.name for c in getattr(constraint, "columns", ())]
        if isinstance(constraint, sa.UniqueConstraint) and names == ["message_id"]:
            constraint.name = _GLOBAL
    return table


def downgrade() -> None:
    op.drop_table("message_copies")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_message_id")
        batch.drop_constraint(_UNIQUE, type_="unique")
        batch.drop_column("content_sha256")
        batch.create_unique_constraint(_GLOBAL, ["message_id"])
