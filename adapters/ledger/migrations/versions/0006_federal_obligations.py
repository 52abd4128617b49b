"""The Mechanism's own obligations: ``federal_obligations``, one row per clock of a case (and
per Board decision for the 72 hours to communicate it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "federal_obligations"


def upgrade() -> None:
    # Plain SQLAlchemy types, as in 0001: a revision creates the same schema whatever the
    # models become. A ledger adopted from create_all may have the table already (see
    # adapters.ledger.migrate).
    if sa.inspect(op.get_bind()).has_table(_TABLE):
        return
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("obligation_id", sa.String(length=40), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=False),
        sa.Column("clock", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("urgency", sa.String(length=20), nullable=True),
        sa.Column("state", sa.String(length=3), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(length=100), nullable=True),
        sa.Column("met_by", sa.String(length=100), nullable=True),
        sa.UniqueConstraint("obligation_id"),
    )
    op.create_index(f"ix_{_TABLE}_case_ref", _TABLE, ["case_ref"])
    op.create_index(f"ix_{_TABLE}_owner", _TABLE, ["owner"])
    op.create_index(f"ix_{_TABLE}_started_at", _TABLE, ["started_at"])
    op.create_index(f"ix_{_TABLE}_met_due", _TABLE, ["met_at", "due_at"])


def downgrade() -> None:
    op.drop_table(_TABLE)
