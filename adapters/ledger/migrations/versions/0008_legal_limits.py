"""The legal limit on commitments to implement protection measures.

``commitments.legal_limit``: the latest moment the law allows the committed measures to be
implemented (bus.domain.legal_limit); the views flag a commitment due later and the sweeper
chases it at the limit. ``requests.legal_limit``: the same limit, set when a protection-measure
request is recorded, which every commitment made on it takes. Both are NULL where no law
limits the implementation (other requests, and every row recorded before this revision).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("requests", "commitments")


def upgrade() -> None:
    # A ledger adopted from create_all already has the columns (see adapters.ledger.migrate).
    shape = sa.inspect(op.get_bind())
    for table in _TABLES:
        if "legal_limit" not in {c["name"] for c in shape.get_columns(table)}:
            op.add_column(
                table, sa.Column("legal_limit", sa.DateTime(timezone=True), nullable=True)
            )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("legal_limit")
