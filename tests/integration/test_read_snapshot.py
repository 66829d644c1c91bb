"""A read of several statements sees one snapshot, on both databases: a write committed between its
statements shows in none of them. The IMAP store reads a folder's changed messages and its expunged uids
one after the other, and must never see a message both present and expunged."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.tables import used_challenges

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def database(database_dsn: str) -> AsyncIterator[Database]:
    opened = Database(async_database_url(database_dsn))
    yield opened
    await opened.dispose()


def commit_elsewhere(database_dsn: str, nonce: str) -> None:
    """Commit a write from another process's point of view: its own engine, thread and event loop."""

    async def write() -> None:
        other = Database(async_database_url(database_dsn))
        try:
            await other.run_write(
                lambda c: c.execute(insert(used_challenges).values(nonce=nonce, expires_at=EXPIRES))
            )
        finally:
            await other.dispose()

    thread = threading.Thread(target=asyncio.run, args=(write(),))
    thread.start()
    thread.join()


def count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(used_challenges)).scalar_one())


async def test_statements_of_one_read_see_one_snapshot(database: Database, database_dsn: str) -> None:
    def read_twice_around_a_commit(connection: Connection) -> tuple[int, int]:
        before = count(connection)
        commit_elsewhere(database_dsn, "committed-between-the-statements")
        return before, count(connection)

    before, after = await database.run_read(read_twice_around_a_commit)
    later = await database.run_read(count)

    assert (before, after, later) == (0, 0, 1)
