"""PostgreSQL: `endpoints_subscribed(mailbox, event type)`, the ids of a mailbox's enabled webhook
endpoints that want an event type, locked `FOR SHARE` in id order. VOLATILE, so that it reads the
endpoints as committed when it runs, not as the snapshot of the statement that calls it: the one
statement of an IMAP APPEND (`append_statement.py`) calls it once it holds its folder and mailbox rows,
after waiting for them, and must queue a delivery for an endpoint registered meanwhile. SQLite has no
such function, and needs none (it has one writer at a time).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        r"""
        CREATE FUNCTION endpoints_subscribed(mailbox VARCHAR, event_type VARCHAR)
        RETURNS SETOF VARCHAR
        LANGUAGE sql VOLATILE
        AS $$
            SELECT id FROM webhook_endpoints
            WHERE mailbox_id = mailbox AND disabled_at IS NULL
                AND event_type = ANY(regexp_split_to_array(events, E'\\s+'))
            ORDER BY id
            FOR SHARE
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION endpoints_subscribed(VARCHAR, VARCHAR)")
