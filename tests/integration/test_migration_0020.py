"""Migration 0020 moves each folder's \\Recent mark out of its row into `recent_marks`, and back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.migrate import alembic_config
from tests.support.databases import create_empty_postgres_database, drop_postgres_database

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


async def run(url: URL, *statements: str) -> list[tuple[int, ...]]:
    """Run `statements`; the rows of the last."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def test_marks_move_to_their_own_table_and_back(empty_database: URL) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0019")
    asyncio.run(run(empty_database, *SCHEMA_0019_ROWS))

    command.upgrade(config, "0020")
    moved = asyncio.run(run(empty_database, "SELECT folder_id, recent_uid FROM recent_marks"))
    command.downgrade(config, "0019")
    back = asyncio.run(run(empty_database, "SELECT id, recent_uid FROM folders ORDER BY id"))

    assert moved == [(1, 7)]
    assert back == [(1, 7), (2, 0)]
