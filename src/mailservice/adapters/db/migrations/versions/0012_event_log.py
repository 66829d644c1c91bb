"""The event log: what agents are told (new mail, a mailbox expiring, expired or renewed), per mailbox in
commit order, written in the transaction of the change it tells of.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailservice.adapters.db.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("mailbox_id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_log"),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name="fk_event_log_mailbox_id_mailboxes", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_event_log_mailbox_id_id", "event_log", ["mailbox_id", "id"])
    op.create_index("ix_event_log_occurred_at", "event_log", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_event_log_occurred_at", "event_log")
    op.drop_index("ix_event_log_mailbox_id_id", "event_log")
    op.drop_table("event_log")
