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

TERMINATE_THE_OTHERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
async def table(postgres_dsn: str) -> None:
    engine = create_engine(async_database_url(postgres_dsn))
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS writer_thread_rows (id int PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO writer_thread_rows VALUES (1) ON CONFLICT DO NOTHING"))
    await engine.dispose()


def lock_the_row(connection: Connection) -> None:
    connection.execute(text("SELECT id FROM writer_thread_rows WHERE id = 1 FOR UPDATE")).one()


async def backends_left(observer: AsyncConnection, held: AsyncConnection) -> list[tuple[str, str]]:
    """The database's server processes besides these two (the writer's connection, while it is open),
    once a second has passed without one going (a closed connection's process takes a moment to end)."""
    others = text(
        "SELECT state, query FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid NOT IN (pg_backend_pid(), :held)"
    )
    held_pid = (await held.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    left: list[tuple[str, str]] = []
    for _ in range(100):
        left = [(row.state, row.query) for row in await observer.execute(others, {"held": held_pid})]
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


@pytest.mark.parametrize("attempt", range(5))  # the race goes either way; most runs lose it once in five
async def test_a_write_cut_off_as_the_thread_closes_leaves_no_transaction_open(
    postgres_dsn: str, attempt: int
) -> None:
    """Its cancel reaches the server after the lock it waited for was granted: the write then sits in
    its transaction until its loop rolls it back, which the close must wait for."""
    url = async_database_url(postgres_dsn)
    engine = create_engine(url)
    writer = WriterThread(url, "test-writer")
    try:
        async with engine.connect() as held, engine.connect() as observer:
            await observer.execution_options(isolation_level="AUTOCOMMIT")
            await held.execute(text("SET lock_timeout = '5s'"))  # a row left locked fails, not hangs
            await held.run_sync(lock_the_row)
            writing = asyncio.create_task(writer.run_write(lock_the_row))
            await waiting_for_a_lock(observer)
            writing.cancel()
            await held.rollback()  # the lock granted to the write, its cancel not yet arrived
            await writer.close()

            assert await backends_left(observer, held) == []
    finally:
        async with engine.connect() as admin:  # a transaction left open would hold up later tests
            await admin.execute(text(TERMINATE_THE_OTHERS))
        await engine.dispose()
