"""A partial index of the messages whose flags may hold \\Deleted (`tables.MAY_BE_DELETED`): an EXPUNGE
and its check for anything to expunge read them from it instead of scanning a folder's rows.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# Written out, not imported from tables.py: a migration keeps the schema of its own time.
_MAY_BE_DELETED = sa.text("flags LIKE '%\\Deleted%' ESCAPE '/'")


def upgrade() -> None:
    op.create_index(
        "ix_messages_folder_id_deleted",
        "messages",
        ["folder_id"],
        sqlite_where=_MAY_BE_DELETED,
        postgresql_where=_MAY_BE_DELETED,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_folder_id_deleted", table_name="messages")
