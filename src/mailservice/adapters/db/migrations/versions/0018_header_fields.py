"""Each raw message's common header fields and their layout, cut out at delivery (`header_fields`,
`mime.common_fields`), and an index that
finds them from a folder's uids without reading the messages rows. Messages stored before have no row;
a header sync reads their header block as before.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "header_fields",
        sa.Column(
            "raw_id",
            sa.String(32),
            sa.ForeignKey("message_raw.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("fields", sa.LargeBinary, nullable=False),
        sa.Column("layout", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_messages_folder_id_uid_raw_id", "messages", ["folder_id", "uid", "raw_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_folder_id_uid_raw_id", table_name="messages")
    op.drop_table("header_fields")
