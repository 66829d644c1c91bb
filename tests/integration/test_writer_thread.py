"""PostgreSQL: the writes of a `WriterThread` (its own thread, loop and connection) end with it: a write
whose caller went away is rolled back before the thread's loop stops, never left open on the server
holding the locks it took."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.writer_thread import WriterThread

pytestmark = pytest.mark.usefixtures("table")


@pytest.fixture
async def table(postgres_dsn: str) -> None:
    engine = create_engine(async_database_url(postgres_dsn))
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS writer_thread_rows (id int PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO writer_thread_rows VALUES (1) ON CONFLICT DO NOTHING"))
    await engine.dispose()


def lock_the_row(connection: Connection) -> None:
    connection.execute(text("SELECT id FROM writer_thread_rows WHERE id = 1 FOR UPDATE")).one()


async def client_backends(observer: AsyncConnection) -> set[int]:
    """The database's server processes of client connections, but the observer's own."""
    found = await observer.execute(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    )
    return set(found.scalars())


async def backends_left(observer: AsyncConnection, before: set[int]) -> set[int]:
    """Those besides `before`, once a second has passed without one going (a closed connection's
    process takes a moment to end)."""
    left: set[int] = set()
    for _ in range(100):
        left = await client_backends(observer) - before
        if not left:
            break
        await asyncio.sleep(0.01)
    return left


async def waiting_for_a_lock(connection: AsyncConnection) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(1000):
        if (await connection.execute(waiting)).scalar_one():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the write never waited for the lock")


async def test_a_write_cut_off_as_the_thread_closes_leaves_no_transaction_open(postgres_dsn: str) -> None:
    """The write's caller goes away while it waits for a row; the thread closes; then the row is let
    go. Had the loop stopped before the write's cancel reached the server, the write would get the row
    and keep it, in a transaction nobody ends."""
    url = async_database_url(postgres_dsn)
    engine = create_engine(url)
    writer = WriterThread(url, "test-writer")
    left: set[int] = set()
    try:
        async with engine.connect() as held, engine.connect() as observer:
            await observer.execution_options(isolation_level="AUTOCOMMIT")
            before = await client_backends(observer)
            await held.execute(text("SET lock_timeout = '5s'"))  # a row left locked fails, not hangs
            await held.run_sync(lock_the_row)
            writing = asyncio.create_task(writer.run_write(lock_the_row))
            await waiting_for_a_lock(observer)
            writing.cancel()
            await writer.close()
            await held.rollback()

            left = await backends_left(observer, before)
            assert left == set()
            await held.run_sync(lock_the_row)  # the row is free
            await held.rollback()
    finally:
        await writer.close()  # again, if the test failed before it closed
        async with engine.connect() as admin:  # a transaction left open would hold up later tests
            for pid in left:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await engine.dispose()
