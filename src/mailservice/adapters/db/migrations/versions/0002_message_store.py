"""Message store: folders, messages with precomputed IMAP items, raw bytes, quota usage.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailservice.adapters.db.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(sa.Column("quota_bytes", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("used_bytes", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "folders",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
        sa.Column("mailbox_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger, nullable=False),
        sa.Column("uidnext", sa.BigInteger, nullable=False),
        sa.Column("highestmodseq", sa.BigInteger, nullable=False),
        sa.Column("special_use", sa.String(20), nullable=True),
        sa.Column("subscribed", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_folders"),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name="fk_folders_mailbox_id_mailboxes", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("mailbox_id", "name", name="uq_folders_mailbox_id"),
    )
    op.create_table(
        "messages",
        sa.Column("id", RowId, autoincrement=True, nullable=False),
        sa.Column("mailbox_id", sa.String(32), nullable=False),
        sa.Column("folder_id", RowId, nullable=False),
        sa.Column("uid", sa.BigInteger, nullable=False),
        sa.Column("modseq", sa.BigInteger, nullable=False),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("internal_date", UtcDateTime, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("raw_id", sa.String(32), nullable=False),
        sa.Column("header_end", sa.Integer, nullable=False),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("from_address", sa.Text, nullable=True),
        sa.Column("from_name", sa.Text, nullable=True),
        sa.Column("to_json", sa.Text, nullable=False),
        sa.Column("cc_json", sa.Text, nullable=False),
        sa.Column("date_header", UtcDateTime, nullable=True),
        sa.Column("message_id", sa.Text, nullable=True),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("bodystructure", sa.Text, nullable=False),
        sa.Column("parts_json", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("has_attachments", sa.Boolean, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name="fk_messages_mailbox_id_mailboxes", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["folders.id"], name="fk_messages_folder_id_folders", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("folder_id", "uid", name="uq_messages_folder_id"),
    )
    op.create_index("ix_messages_raw_id", "messages", ["raw_id"])
    op.create_index("ix_messages_mailbox_id_internal_date", "messages", ["mailbox_id", "internal_date"])
    op.create_table(
        "message_raw",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_raw"),
    )


def downgrade() -> None:
    op.drop_table("message_raw")
    op.drop_table("messages")
    op.drop_table("folders")
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("used_bytes")
        batch.drop_column("quota_bytes")
