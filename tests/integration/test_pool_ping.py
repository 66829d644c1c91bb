"""PostgreSQL pools ping a connection only after it was idle: one in steady use costs no round trips
before its statement, and one the server closed while it was idle is replaced before it is used. A
pool keeps every connection it opens: load beyond it waits, it does not open and close more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.ext.asyncio import AsyncEngine

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.engine import POOL_SIZE, create_engine


@pytest.fixture
async def engine_of(postgres_dsn: str) -> AsyncIterator[list[AsyncEngine]]:
    made: list[AsyncEngine] = []
    yield made
    for engine in made:
        await engine.dispose()


def count_pings(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """The pings of asyncpg connections from now on."""
    pings: list[None] = []
    ping = AsyncAdapt_asyncpg_connection.ping

    def counted(connection: AsyncAdapt_asyncpg_connection) -> None:
        pings.append(None)
        ping(connection)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    return pings


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


@pytest.mark.parametrize(("idle_seconds", "pinged"), [(60, 0), (0, 1)])
async def test_a_connection_is_pinged_only_after_it_was_idle(
    postgres_dsn: str,
    engine_of: list[AsyncEngine],
    monkeypatch: pytest.MonkeyPatch,
    idle_seconds: float,
    pinged: int,
) -> None:
    engine = create_engine(async_database_url(postgres_dsn), pool_size=1, ping_after_idle=idle_seconds)
    engine_of.append(engine)
    first = await backend_pid(engine)
    pings = count_pings(monkeypatch)

    assert await backend_pid(engine) == first
    assert len(pings) == pinged


async def test_a_connection_closed_while_idle_is_replaced_before_use(
    postgres_dsn: str, engine_of: list[AsyncEngine]
) -> None:
    engine = create_engine(async_database_url(postgres_dsn), pool_size=1, ping_after_idle=0)
    admin = create_engine(async_database_url(postgres_dsn), pool_size=1)
    engine_of += [engine, admin]
    first = await backend_pid(engine)
    async with admin.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})

    second = await backend_pid(engine)

    assert second != first


async def pid_after_a_while(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.execute(text("SELECT pg_backend_pid() FROM pg_sleep(0.02)"))
        return int(found.scalar_one())


async def test_a_pool_under_more_load_than_its_connections_keeps_the_same_ones(
    postgres_dsn: str, engine_of: list[AsyncEngine]
) -> None:
    engine = create_engine(async_database_url(postgres_dsn))
    engine_of.append(engine)
    pids: set[int] = set()
    for _ in range(3):
        pids.update(await asyncio.gather(*(pid_after_a_while(engine) for _ in range(3 * POOL_SIZE))))

    assert len(pids) == POOL_SIZE
