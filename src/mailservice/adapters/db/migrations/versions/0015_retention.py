"""Per-mailbox retention policies, and an index to find old mail across mailboxes.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_retention",
        sa.Column(
            "mailbox_id", sa.String(32), sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("max_age_days", sa.Integer, nullable=True),
        sa.Column("delete_oldest_read", sa.Boolean, nullable=False),
    )
    op.create_index("ix_messages_internal_date", "messages", ["internal_date"])


def downgrade() -> None:
    op.drop_index("ix_messages_internal_date", table_name="messages")
    op.drop_table("mailbox_retention")
