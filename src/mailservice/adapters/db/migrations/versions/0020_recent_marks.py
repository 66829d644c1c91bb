"""The \\Recent mark of each folder moves out of the folder's row into `recent_marks`: every write to a
folder holds that row's lock until its commit, and a session claiming new messages as recent waited
behind them.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# As in tables.py at this revision: SQLite makes only INTEGER PRIMARY KEY an alias of its rowid.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "recent_marks",
        sa.Column("folder_id", _ROW_ID, sa.ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("recent_uid", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO recent_marks (folder_id, recent_uid) SELECT id, recent_uid FROM folders WHERE recent_uid > 0"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE folders SET recent_uid = "
        "COALESCE((SELECT recent_uid FROM recent_marks WHERE recent_marks.folder_id = folders.id), 0)"
    )
    op.drop_table("recent_marks")
