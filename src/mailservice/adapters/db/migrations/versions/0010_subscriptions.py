"""Subscriptions in a table of their own: a subscription outlives its folder (RFC 3501 section 6.3.6)
and may name a folder that does not exist. INBOX is always subscribed and is not stored.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column(
            "mailbox_id", sa.String(32), sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("name", sa.String(255), primary_key=True),
    )
    op.execute(
        "INSERT INTO subscriptions (mailbox_id, name) "
        "SELECT mailbox_id, name FROM folders WHERE subscribed AND name <> 'INBOX'"
    )


def downgrade() -> None:
    op.drop_table("subscriptions")
