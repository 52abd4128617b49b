"""The hub's lease on the ledger (``hub_lease``): one row naming the hub that records, until
when (by the database's clock), and a fencing epoch bumped at each takeover; every commit of
the hub holding epoch E first checks the row still says E (adapters.ledger.lease).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    lease = op.create_table(
        "hub_lease",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Free from the start: the first hub takes epoch 1.
    op.bulk_insert(
        lease, [{"name": "hub", "holder": "", "epoch": 0, "taken_at": 0.0, "expires_at": 0.0}]
    )


def downgrade() -> None:
    op.drop_table("hub_lease")
