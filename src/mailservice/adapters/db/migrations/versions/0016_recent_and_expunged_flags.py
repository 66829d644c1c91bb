"""Each folder's \\Recent mark (the highest uid a session has taken as recent), and the flags an expunged
message had when it was removed (another session may fetch it before it hears of the expunge).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("folders") as batch:
        batch.add_column(sa.Column("recent_uid", sa.BigInteger, nullable=False, server_default="0"))
    # Mail stored before the mark existed has been seen: it does not become recent again.
    op.execute("UPDATE folders SET recent_uid = uidnext - 1")
    with op.batch_alter_table("expunged_messages") as batch:
        batch.add_column(sa.Column("flags", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("expunged_messages") as batch:
        batch.drop_column("flags")
    with op.batch_alter_table("folders") as batch:
        batch.drop_column("recent_uid")
