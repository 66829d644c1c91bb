"""Expunged messages, so IMAP sessions learn what other sessions removed since a modseq.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "expunged_messages",
        sa.Column(
            "folder_id",
            _ROW_ID,
            sa.ForeignKey("folders.id", ondelete="CASCADE", name="fk_expunged_messages_folder_id_folders"),
            nullable=False,
        ),
        sa.Column("uid", sa.BigInteger, nullable=False),
        sa.Column("modseq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("folder_id", "uid", name="pk_expunged_messages"),
    )
    op.create_index("ix_expunged_messages_folder_id_modseq", "expunged_messages", ["folder_id", "modseq"])
    op.create_index("ix_messages_folder_id_modseq", "messages", ["folder_id", "modseq"])


def downgrade() -> None:
    op.drop_index("ix_messages_folder_id_modseq", "messages")
    op.drop_table("expunged_messages")
