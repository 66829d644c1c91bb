"""What IMAP SORT orders messages by, stored at delivery: the base subject, the sent date, the first
From/To/Cc mailbox and display names. Messages stored before have none (`sort_subject` NULL); SORT
computes theirs from the header block as before.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailservice.adapters.db.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_TEXT_COLUMNS = ("sort_subject", "sort_from", "sort_to", "sort_cc", "sort_display_from", "sort_display_to")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        for name in _TEXT_COLUMNS:
            batch.add_column(sa.Column(name, sa.Text, nullable=True))
        batch.add_column(sa.Column("sort_date", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sort_date")
        for name in reversed(_TEXT_COLUMNS):
            batch.drop_column(name)
