"""The scorecard's figures of each month as of its end (``scorecard_periods`` rows of span
``end``), derived for the rows recorded before them, so that the report of a month gone by
reads them; the index of what is owed now (partial: those rows alone), and the deadlines in
the indexes of acknowledgements and decisions, so that open overdue at a moment is counted
from indexes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "request_recipients"
OWED = "status IN ('acknowledged', 'delivered', 'sent')"  # tables.OWED_NOW_SQL, as of now
OWED_COLUMNS = ("agency", "sent_at", "ack_due_at", "acknowledged_at", "answer_due_at",
                "decided_at", "kind", "status")  # fmt: skip
WIDENED = (
    ("ix_recipients_acknowledged", ("acknowledged_at",), ("acknowledged_at", "ack_due_at")),
    (
        "ix_recipients_decided",
        ("decided_at",),
        ("decided_at", "ack_due_at", "answer_due_at"),
    ),
)


def _names() -> set[str]:
    return {str(ix["name"]) for ix in sa.inspect(op.get_bind()).get_indexes(TABLE)}


def _index(name: str, columns: Sequence[str]) -> None:
    # a ledger adopted from create_all may have the index under either definition
    if name in _names():
        op.drop_index(name, table_name=TABLE)
    op.create_index(name, TABLE, list(columns), unique=False)


def upgrade() -> None:
    for name, _, columns in WIDENED:
        _index(name, columns)
    if "ix_recipients_owed" not in _names():
        where = sa.text(OWED)
        op.create_index(
            "ix_recipients_owed",
            TABLE,
            list(OWED_COLUMNS),
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )
    # One definition of what each row counts for: the rebuild derives the new rows with the
    # others (the same figures for those).
    from adapters.ledger.aggregates import rebuild

    with Session(bind=op.get_bind()) as session:
        rebuild(session)
        session.commit()  # the migration's own transaction is committed by Alembic


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM scorecard_periods WHERE span = 'end'"))
    op.drop_index("ix_recipients_owed", table_name=TABLE)
    for name, columns, _ in WIDENED:
        _index(name, columns)
