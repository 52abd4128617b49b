"""IACHR precautionary measures: each MC number's grant date, SRE's notice date and state.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "iachr_measures",
        sa.Column("measure", sa.String(length=12), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=3), nullable=False),
        sa.Column("beneficiaries", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=True),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("measure"),
    )
    op.create_index("ix_iachr_measures_state", "iachr_measures", ["state"], unique=False)
    op.create_index("ix_iachr_measures_case_ref", "iachr_measures", ["case_ref"], unique=False)


def downgrade() -> None:
    op.drop_table("iachr_measures")
