"""SQLite: folder ids are never given twice (`AUTOINCREMENT`). Without it SQLite gives a new row the
highest id plus one, so a folder deleted and made again could take the id of the one deleted, and a
session that still had the old folder selected acted on the new folder's messages by that id. The table
is rebuilt, with its rows and ids; migrations run with foreign keys off on SQLite (see env.py), so the
rebuild leaves the rows that refer to folders as they are. PostgreSQL's ids come from a sequence,
which never gives one twice: nothing to do there.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild_folders(autoincrement=True)


def downgrade() -> None:
    _rebuild_folders(autoincrement=False)


def _rebuild_folders(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "folders", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
