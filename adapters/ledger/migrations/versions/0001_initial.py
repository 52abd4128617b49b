"""The ledger as SQLModel's create_all made it before migrations (adapters/ledger/tables.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain SQLAlchemy types, never the models' own (UTCDateTime, AutoString): a revision must
# create the same schema however the code changes later. Constraint names are left to the
# database, as create_all left them, and constraints come in create_all's order (SQLite
# numbers its unnamed unique indexes by it), so adopted and migrated ledgers are alike.


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _time(name: str, *, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _index(table: str, *columns: str, name: str | None = None) -> None:
    op.create_index(name or f"ix_{table}_{columns[0]}", table, list(columns), unique=False)


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("seq", sa.Integer(), nullable=False),
        _str("message_id", 100),
        _str("type", 100),
        _str("family", 20),
        _str("source", 64),
        _str("thread_id", 100),
        _str("causation_id", 100, nullable=True),
        _str("case_ref", 40, nullable=True),
        _str("nats_subject", 300),
        sa.Column("stream_seq", sa.Integer(), nullable=False),
        _time("sent_at", nullable=False),
        _time("recorded_at", nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("personal_sealed", sa.LargeBinary(), nullable=True),
        _str("raw_sha256", 64),
        _str("prev_hash", 64),
        _str("row_hash", 64),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("stream_seq"),
    )
    for column in ("type", "source", "thread_id", "case_ref"):
        _index("messages", column)

    op.create_table(
        "requests",
        _str("request_id", 100),
        _str("type", 100),
        _str("source", 64),
        _str("case_ref", 40, nullable=True),
        _str("urgency", 20),
        _time("sent_at", nullable=False),
        _time("expires"),
        _time("updated_at"),
        _time("closed_at"),
        _str("iachr_precautionary_measure", 40, nullable=True),
        _str("board_session_id", 64, nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
    )
    for column in ("type", "case_ref", "sent_at", "iachr_precautionary_measure"):
        _index("requests", column)

    op.create_table(
        "request_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("request_id", 100),
        sa.Column("position", sa.Integer(), nullable=False),
        _str("agency", 64),
        _str("status", 20),
        _str("kind", 40),
        _str("urgency", 20),
        _str("state", 3, nullable=True),
        _time("sent_at"),
        _time("ack_due_at"),
        _time("answer_due_at"),
        _time("delivered_at"),
        _time("acknowledged_at"),
        _str("acknowledged_by", 200, nullable=True),
        sa.Column("seconds_to_acknowledge", sa.Float(), nullable=True),
        _time("decided_at"),
        _str("decision_note", 200, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "agency"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.request_id"]),
    )
    _index("request_recipients", "request_id")
    _index("request_recipients", "kind")
    _index("request_recipients", "status", "ack_due_at", name="ix_recipients_status_ack_due")
    _index("request_recipients", "status", "answer_due_at", name="ix_recipients_status_answer_due")
    _index(
        "request_recipients",
        "state",
        "status",
        "ack_due_at",
        name="ix_recipients_state_status_ack_due",
    )
    _index(
        "request_recipients",
        "agency",
        "status",
        "ack_due_at",
        name="ix_recipients_agency_status_ack_due",
    )
    _index("request_recipients", "sent_at", name="ix_recipients_sent")
    _index("request_recipients", "acknowledged_at", name="ix_recipients_acknowledged")
    _index("request_recipients", "decided_at", name="ix_recipients_decided")

    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("request_id", 100),
        _str("commitment_id", 64),
        _str("agency", 64),
        sa.Column("action", sa.Text(), nullable=False),
        _time("due", nullable=False),
        _time("made_at", nullable=False),
        _str("status", 30),
        _time("last_progress_at"),
        _time("ended_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "commitment_id"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.request_id"]),
    )
    _index("commitments", "request_id")
    _index("commitments", "agency")
    _index("commitments", "status", "due", name="ix_commitments_status_due")

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_seq", sa.Integer(), nullable=False),
        _str("nats_subject", 300),
        _str("sender", 64, nullable=True),
        _str("reason", 40),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("errors_json", sa.Text(), nullable=False),
        _str("message_id", 100, nullable=True),
        _time("received_at", nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("notice", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stream_seq"),
    )
    for column in ("sender", "reason", "received_at"):
        _index("dead_letters", column)

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("request_id", 100),
        _str("agency", 64),
        _str("clock", 40),
        _str("commitment_key", 64),
        _str("level", 30),
        _str("message_id", 100),
        _str("to_agency", 64),
        _time("due_at", nullable=False),
        _time("fired_at", nullable=False),
        _str("board_session_id", 64, nullable=True),
        _str("authority_to_summon", 64, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "agency", "clock", "commitment_key", "level"),
        sa.UniqueConstraint("message_id"),
    )
    for column in ("request_id", "agency", "fired_at", "board_session_id"):
        _index("escalations", column)

    op.create_table(
        "board_sessions",
        _str("session_id", 64),
        _time("scheduled_at", nullable=False),
        _str("venue", 200),
        sa.PrimaryKeyConstraint("session_id"),
    )
    _index("board_sessions", "scheduled_at")

    op.create_table(
        "board_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("session_id", 64),
        _str("agency", 64),
        sa.Column("attended", sa.Boolean(), nullable=False),
        _time("recorded_at", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "agency"),
    )
    _index("board_attendance", "session_id")
    _index("board_attendance", "agency")

    op.create_table(
        "shelter_capacity",
        _str("shelter", 64),
        _str("region", 200),
        sa.Column("total_spaces", sa.Integer(), nullable=False),
        sa.Column("free_spaces", sa.Integer(), nullable=False),
        sa.Column("spaces_24h", sa.Integer(), nullable=False),
        sa.Column("spaces_72h", sa.Integer(), nullable=False),
        sa.Column("accepts_families", sa.Boolean(), nullable=False),
        sa.Column("accepts_children", sa.Boolean(), nullable=False),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        _str("security_level", 30),
        sa.Column("max_stay_days", sa.Integer(), nullable=False),
        sa.Column("services_json", sa.Text(), nullable=False),
        _time("reported_at", nullable=False),
        sa.PrimaryKeyConstraint("shelter"),
    )

    op.create_table(
        "capacity_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("shelter", 64),
        _time("reported_at", nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("capacity_reports", "shelter")
    _index("capacity_reports", "reported_at")


def downgrade() -> None:
    # Children before the table they reference; a table's indexes go with it.
    for table in (
        "capacity_reports",
        "shelter_capacity",
        "board_attendance",
        "board_sessions",
        "escalations",
        "dead_letters",
        "commitments",
        "request_recipients",
        "requests",
        "messages",
    ):
        op.drop_table(table)
