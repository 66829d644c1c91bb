"""Accounts of the legacy flow, their single-use tokens, support messages and outbox reply-to.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailservice.adapters.db.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner_email", sa.String(320), nullable=False),
        sa.Column("api_token_hash", sa.String(64), nullable=False),
        sa.Column("subscription_expires_at", UtcDateTime, nullable=True),
        sa.Column("recovery_sent_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("owner_email", name="uq_accounts_owner_email"),
        sa.UniqueConstraint("api_token_hash", name="uq_accounts_api_token_hash"),
    )
    op.create_table(
        "account_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("used_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_account_tokens"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_account_tokens_account_id_accounts", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_account_tokens_account_id_kind", "account_tokens", ["account_id", "kind"])
    op.create_table(
        "support_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("key_fingerprint", sa.String(80), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_support_messages"),
    )
    op.create_index(
        "ix_support_messages_key_fingerprint_created_at",
        "support_messages",
        ["key_fingerprint", "created_at"],
    )
    # Plain ADD COLUMN on both databases: a batch rebuild of `mailboxes` on SQLite would cascade deletes.
    op.add_column("mailboxes", sa.Column("account_id", sa.String(32), nullable=True))
    op.create_index("ix_mailboxes_account_id", "mailboxes", ["account_id"])
    op.add_column("outbox", sa.Column("reply_to", sa.String(320), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "reply_to")
    op.drop_index("ix_mailboxes_account_id", "mailboxes")
    op.drop_column("mailboxes", "account_id")
    op.drop_table("support_messages")
    op.drop_table("account_tokens")
    op.drop_table("accounts")
