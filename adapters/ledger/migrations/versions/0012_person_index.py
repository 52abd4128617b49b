"""Searching without names in clear: the blind index of people named in messages
(``person_index``: keyed hashes of each name and its words) and the searchable text of each
request's messages (``request_text``). ``mechbus search reindex`` fills both for messages
recorded before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_index",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("person", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("case_ref", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "source", "message_id", "person", "token", name="uq_person_index_entry"
        ),
    )
    op.create_index("ix_person_index_token", "person_index", ["token"], unique=False)
    op.create_table(
        "request_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "message_id", name="uq_request_text_message"),
    )
    op.create_index("ix_request_text_request_id", "request_text", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_table("request_text")
    op.drop_table("person_index")
