"""Presumed aggressors: each agency named presumed aggressor on a case, who named it and when,
and when and by whom it was lifted.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "presumed_aggressors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_by_role", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_message_id", sa.String(length=100), nullable=False),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.Column("lifted_by_role", sa.String(length=200), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_message_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("set_message_id"),
        sa.UniqueConstraint("lifted_message_id"),
    )
    op.create_index(
        "ix_presumed_aggressors_case_agency",
        "presumed_aggressors",
        ["case_ref", "agency"],
        unique=False,
    )
    op.create_index(
        "ix_presumed_aggressors_agency", "presumed_aggressors", ["agency"], unique=False
    )


def downgrade() -> None:
    op.drop_table("presumed_aggressors")
