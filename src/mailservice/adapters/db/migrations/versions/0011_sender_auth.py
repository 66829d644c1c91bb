"""Keep each message's envelope sender, its sender-authentication verdict and the domain it verified.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("envelope_from", sa.Text, nullable=True))
        batch.add_column(sa.Column("auth_json", sa.Text, nullable=True))
        batch.add_column(sa.Column("verified_domain", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("verified_domain")
        batch.drop_column("auth_json")
        batch.drop_column("envelope_from")
