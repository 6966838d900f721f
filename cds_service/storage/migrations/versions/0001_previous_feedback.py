"""The hand-written SQLite feedback table of releases before issue 13, as it was.

A file written by those releases has this table and no alembic_version: it is stamped as this
revision and upgraded from here (cds_service.storage.schema). An empty database goes through
it too, so that every database follows the same path.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("item_key", sa.Text, primary_key=True),
        sa.Column("service_id", sa.Text, nullable=False),
        sa.Column("card_uuid", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("outcome_at", sa.Text, nullable=False),
        sa.Column("received_at", sa.Text, nullable=False),
        sa.Column("item_json", sa.Text, nullable=False),
    )
    op.create_index("feedback_card", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("feedback_card", table_name="feedback")
    op.drop_table("feedback")
