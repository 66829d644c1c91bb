"""Store the IMAP texts (ENVELOPE, BODY, BODYSTRUCTURE) as bytes: they may hold header bytes that are
not UTF-8, which a text column refuses.

SQLite keeps its column declarations (a text column stores blobs as they are); PostgreSQL converts.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = ("envelope", "body", "bodystructure")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.execute(
            f"ALTER TABLE messages ALTER COLUMN {column} TYPE bytea USING convert_to({column}, 'UTF8')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.execute(
            f"ALTER TABLE messages ALTER COLUMN {column} TYPE text USING convert_from({column}, 'UTF8')"
        )
