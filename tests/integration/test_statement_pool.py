"""The connections of one-statement reads and writes on PostgreSQL (`StatementPool`): at most so many,
each lent for one statement; one the server closed is replaced when taken, one whose statement went
away midway is closed, and a statement waiting for a connection that goes away takes none with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from mailservice.adapters.db.dsn import libpq_dsn
from mailservice.adapters.db.statement_pool import StatementPool

_PID = "SELECT pg_backend_pid() AS pid"
_PID_AFTER = "SELECT pg_backend_pid() AS pid, pg_sleep($1::float8)"


@pytest.fixture
def dsn(postgres_dsn: str) -> str:
    return libpq_dsn(make_url(postgres_dsn))


@pytest.fixture
async def pools(dsn: str) -> AsyncIterator[Callable[..., StatementPool]]:
    made: list[StatementPool] = []

    def pool(
        max_size: int = 2, connect: Callable[[], Awaitable[asyncpg.Connection]] | None = None
    ) -> StatementPool:
        made.append(StatementPool(connect or partial(asyncpg.connect, dsn), max_size))
        return made[-1]

    yield pool
    for pool_made in made:
        await pool_made.close()


async def pid_of(pool: StatementPool, seconds: float = 0.0) -> int:
    [row] = await pool.fetch(_PID_AFTER, seconds)
    return int(row["pid"])


async def test_statements_beyond_the_size_wait_for_a_connection_and_reuse_it(
    pools: Callable[..., StatementPool],
) -> None:
    pool = pools(max_size=2)
    pids = await asyncio.gather(*(pid_of(pool, 0.05) for _ in range(6)))
    assert len(set(pids)) == 2
    assert await pid_of(pool) in pids


async def test_a_connection_the_server_closed_is_replaced_when_taken_without_a_failed_statement(
    pools: Callable[..., StatementPool], dsn: str
) -> None:
    pool = pools(max_size=2)
    first = await pid_of(pool)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", first)
    finally:
        await admin.close()
    deadline = asyncio.get_running_loop().time() + 5
    while not pool._idle[0].is_closed():  # the driver hears of the closed socket from the event loop
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    assert await pid_of(pool) != first


async def test_a_statement_the_database_refuses_leaves_its_connection_in_the_pool(
    pools: Callable[..., StatementPool],
) -> None:
    pool = pools(max_size=1)
    before = await pid_of(pool)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await pool.fetch("SELECT 1 / $1::int", 0)
    assert await pid_of(pool) == before


async def test_the_connection_of_a_statement_cancelled_midway_is_closed_not_lent_again(
    pools: Callable[..., StatementPool],
) -> None:
    pool = pools(max_size=1)
    before = await pid_of(pool)
    running = asyncio.create_task(pid_of(pool, 5))
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert await asyncio.wait_for(pid_of(pool), 2) != before


async def test_a_statement_that_stops_waiting_for_a_connection_takes_none_with_it(
    pools: Callable[..., StatementPool],
) -> None:
    pool = pools(max_size=1)
    holding = asyncio.create_task(pid_of(pool, 0.3))
    await asyncio.sleep(0.1)
    waiting = asyncio.create_task(pid_of(pool))
    await asyncio.sleep(0.05)
    waiting.cancel()
    held = await holding
    assert await asyncio.wait_for(pid_of(pool), 2) == held
    assert waiting.cancelled()


async def test_a_connection_that_cannot_be_opened_fails_its_statement_and_leaves_room(
    pools: Callable[..., StatementPool], dsn: str
) -> None:
    attempts: list[None] = []

    async def connect_second_time() -> asyncpg.Connection:
        attempts.append(None)
        if len(attempts) == 1:
            raise OSError("connection refused")
        return await asyncpg.connect(dsn)

    pool = pools(max_size=1, connect=connect_second_time)
    with pytest.raises(OSError):
        await pool.fetch(_PID)
    assert await asyncio.wait_for(pid_of(pool), 2) > 0


async def test_a_closed_pool_lends_nothing_and_closes_what_comes_back(
    pools: Callable[..., StatementPool],
) -> None:
    pool = pools(max_size=1)
    await pid_of(pool)
    connection = pool._idle[0]
    holding = asyncio.create_task(pid_of(pool, 0.2))
    await asyncio.sleep(0.05)
    await pool.close()
    await holding
    assert connection.is_closed()
    with pytest.raises(asyncpg.InterfaceError):
        await pool.fetch(_PID)
