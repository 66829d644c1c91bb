"""The connections of one-statement reads and writes on PostgreSQL (`StatementPool`): at most so many,
each lent for one statement and served in turn; one the server closed is replaced when taken, a
statement cancelled midway is cancelled on the server too, and a statement that stops waiting for a
connection takes none with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from mailservice.adapters.db import statement_pool
from mailservice.adapters.db.dsn import libpq_dsn
from mailservice.adapters.db.statement_pool import StatementPool
from tests.support.polling import until

_PID = "SELECT pg_backend_pid() AS pid"
_PID_AFTER = "SELECT pg_backend_pid() AS pid, pg_sleep($1::float8)"
WAIT_SECONDS = 10


@dataclass
class Opened:
    """A pool and every connection it opened."""

    pool: StatementPool
    connections: list[asyncpg.Connection] = field(default_factory=list)


@pytest.fixture
def dsn(postgres_dsn: str) -> str:
    return libpq_dsn(make_url(postgres_dsn))


@pytest.fixture
async def pools(dsn: str) -> AsyncIterator[Callable[..., Opened]]:
    made: list[Opened] = []

    def pool(max_size: int = 2, fail_first_connect: bool = False) -> Opened:
        attempts: list[None] = []

        async def connect() -> asyncpg.Connection:
            attempts.append(None)
            if fail_first_connect and len(attempts) == 1:
                raise OSError("connection refused")
            opened.connections.append(await asyncpg.connect(dsn))
            return opened.connections[-1]

        opened = Opened(StatementPool(connect, max_size))
        made.append(opened)
        return opened

    yield pool
    for opened in made:
        await opened.pool.close()


async def pid_of(pool: StatementPool, seconds: float = 0.0) -> int:
    [row] = await pool.fetch(_PID_AFTER, seconds)
    return int(row["pid"])


async def sleeping_backends(dsn: str) -> set[int]:
    """The server processes running a `pg_sleep` statement now."""
    admin = await asyncpg.connect(dsn)
    try:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
            "AND query LIKE '%pg_sleep(%' AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    return {int(row["pid"]) for row in rows}


async def until_sleeping(dsn: str, count: int) -> set[int]:
    async with asyncio.timeout(WAIT_SECONDS):
        while len(found := await sleeping_backends(dsn)) < count:  # noqa: ASYNC110 -- the server's state
            await asyncio.sleep(0.01)
    return found


async def test_statements_beyond_the_size_wait_for_a_connection_and_reuse_it(
    pools: Callable[..., Opened],
) -> None:
    pool = pools(max_size=2).pool
    pids = await asyncio.gather(*(pid_of(pool, 0.05) for _ in range(6)))
    assert len(set(pids)) == 2
    assert await pid_of(pool) in pids


async def test_a_connection_the_server_closed_is_replaced_when_taken_without_a_failed_statement(
    pools: Callable[..., Opened], dsn: str
) -> None:
    opened = pools(max_size=2)
    first = await pid_of(opened.pool)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", first)
    finally:
        await admin.close()
    await until(opened.connections[0].is_closed)  # the driver hears of it from the event loop
    assert await pid_of(opened.pool) != first


async def test_a_statement_the_database_refuses_leaves_its_connection_in_the_pool(
    pools: Callable[..., Opened],
) -> None:
    pool = pools(max_size=1).pool
    before = await pid_of(pool)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await pool.fetch("SELECT 1 / $1::int", 0)
    assert await pid_of(pool) == before


async def test_a_statement_cancelled_midway_is_cancelled_on_the_server_and_its_connection_serves_on(
    pools: Callable[..., Opened], dsn: str
) -> None:
    pool = pools(max_size=1).pool
    before = await pid_of(pool)
    running = asyncio.create_task(pid_of(pool, 30))
    assert await until_sleeping(dsn, 1) == {before}
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert await asyncio.wait_for(pid_of(pool), WAIT_SECONDS) == before
    assert before not in await sleeping_backends(dsn)


async def one_holding_one_waiting(
    pool: StatementPool, dsn: str
) -> tuple[asyncio.Task[int], asyncio.Task[int]]:
    """A statement holding the pool's one connection for a moment, and one waiting for it."""
    holding = asyncio.create_task(pid_of(pool, 0.2))
    await until_sleeping(dsn, 1)
    waiting = asyncio.create_task(pid_of(pool))
    await until(lambda: pool.waiting_count == 1)
    return holding, waiting


async def test_a_statement_that_stops_waiting_for_a_connection_takes_none_with_it(
    pools: Callable[..., Opened], dsn: str
) -> None:
    pool = pools(max_size=1).pool
    holding, waiting = await one_holding_one_waiting(pool, dsn)
    waiting.cancel()
    held = await holding
    assert await asyncio.wait_for(pid_of(pool), WAIT_SECONDS) == held
    assert waiting.cancelled()


async def test_a_connection_given_to_a_statement_that_went_away_just_then_goes_to_the_next(
    pools: Callable[..., Opened], dsn: str
) -> None:
    pool = pools(max_size=1).pool
    holding, waiting = await one_holding_one_waiting(pool, dsn)
    # Cancelled in the same turn as the connection is handed to it, before it can run.
    pool._waiting[0].add_done_callback(lambda _: waiting.cancel())
    held = await holding
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await asyncio.wait_for(pid_of(pool), WAIT_SECONDS) == held
    assert pool.idle_count == 1


async def test_a_connection_that_cannot_be_opened_fails_its_statement_and_leaves_room(
    pools: Callable[..., Opened],
) -> None:
    pool = pools(max_size=1, fail_first_connect=True).pool
    with pytest.raises(OSError):
        await pool.fetch(_PID)
    assert await asyncio.wait_for(pid_of(pool), WAIT_SECONDS) > 0


async def test_a_connection_idle_too_long_is_closed_and_replaced(
    pools: Callable[..., Opened], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statement_pool, "IDLE_SECONDS", 0.0)
    opened = pools(max_size=1)
    first = await pid_of(opened.pool)
    await asyncio.sleep(0.01)  # idle for longer than that
    assert await pid_of(opened.pool) != first
    assert opened.connections[0].is_closed()


async def test_a_closed_pool_lends_nothing_and_closes_what_comes_back(
    pools: Callable[..., Opened], dsn: str
) -> None:
    opened = pools(max_size=1)
    holding = asyncio.create_task(pid_of(opened.pool, 0.2))
    await until_sleeping(dsn, 1)
    await opened.pool.close()
    await holding
    assert opened.connections[0].is_closed()
    with pytest.raises(asyncpg.InterfaceError):
        await opened.pool.fetch(_PID)
