"""Migration 0020 moves each folder's \\Recent mark out of its row into `recent_marks`, and back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import URL

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.migrate import alembic_config
from tests.support.databases import create_empty_postgres_database, drop_postgres_database, run_statements

SCHEMA_0019_ROWS = [
    "INSERT INTO mailboxes (id, login, billing_email, status, created_at, updated_at)"
    " VALUES ('m1', 'l1', 'billing@example.org', 'active', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')",
    "INSERT INTO folders (id, mailbox_id, name, uidvalidity, uidnext, highestmodseq, recent_uid, subscribed,"
    " created_at) VALUES (1, 'm1', 'INBOX', 1, 10, 4, 7, false, '2026-01-01 00:00:00+00'),"
    " (2, 'm1', 'Archive', 2, 1, 1, 0, false, '2026-01-01 00:00:00+00')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    if request.param == "sqlite":
        yield async_database_url(str(tmp_path / "old.db"))
        return
    dsn = create_empty_postgres_database()
    yield async_database_url(dsn)
    drop_postgres_database(dsn)


def test_marks_move_to_their_own_table_and_back(empty_database: URL) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0019")
    run_statements(empty_database, *SCHEMA_0019_ROWS)

    command.upgrade(config, "0020")
    moved = run_statements(empty_database, "SELECT folder_id, recent_uid FROM recent_marks")
    command.downgrade(config, "0019")
    back = run_statements(empty_database, "SELECT id, recent_uid FROM folders ORDER BY id")

    assert moved == [(1, 7)]
    assert back == [(1, 7), (2, 0)]
