"""The scorecard's figures by day and by month (``scorecard_periods``: by day or month and
agency, what the requests sent and the commitments settled in it count for), filled from the
rows already recorded, so an upgraded ledger's scorecard reads as before; and the indexes its
live corrections use.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = (
    "received",
    "acknowledged",
    "acknowledgements_due",
    "acknowledged_on_time",
    "commitments_settled",
    "commitments_kept",
    *(f"hours_{i:02d}" for i in range(24)),
)


INDEXES = (
    ("request_recipients", "ix_recipients_ack_due", ("ack_due_at",)),
    (
        "request_recipients",
        "ix_recipients_agency_seconds",
        ("agency", "seconds_to_acknowledge", "sent_at", "acknowledged_at", "kind"),
    ),
    ("commitments", "ix_commitments_due", ("due",)),
    ("commitments", "ix_commitments_ended", ("ended_at", "agency", "due", "made_at")),
)


def upgrade() -> None:
    op.create_table(
        "scorecard_periods",
        sa.Column("span", sa.String(length=5), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in FIGURES),
        sa.PrimaryKeyConstraint("span", "first_day", "agency"),
    )
    # A ledger adopted from create_all has its tables as this mechbus's models make them,
    # indexes included.
    shape = sa.inspect(op.get_bind())
    for table, name, columns in INDEXES:
        if name not in {ix["name"] for ix in shape.get_indexes(table)}:
            op.create_index(name, table, list(columns), unique=False)
    # The backfill is the rebuild itself: one definition of what each row counts for.
    from adapters.ledger.aggregates import rebuild

    with Session(bind=op.get_bind()) as session:
        rebuild(session)
        session.commit()  # the migration's own transaction is committed by Alembic


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("scorecard_periods")
