"""Remember, per mailbox, the expiry for which the renewal reminder and the expired notice were queued.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailservice.adapters.db.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mailboxes", sa.Column("reminder_sent_for", UtcDateTime, nullable=True))
    op.add_column("mailboxes", sa.Column("expired_notice_sent_for", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("expired_notice_sent_for")
        batch.drop_column("reminder_sent_for")
