"""PostgreSQL: the service analyzes its tables as soon as their size has moved by a tenth
(`planner_statistics.py`), and not while it holds still. A database of its own, so that no other test's
rows or ANALYZE count; the rows are written by connections that then close, since a connection that
stays idle tells PostgreSQL's statistics of its writes only about ten seconds later."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from mailservice.adapters.db import planner_statistics
from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.planner_statistics import ONE_NODE_AT_A_TIME, analyze_moved_tables
from mailservice.domain.clock import FixedClock
from tests.integration.test_write_locks import running_nodes
from tests.support.databases import create_postgres_database, drop_postgres_database

AT_LEAST = 20
"""`ROWS_MOVED_AT_LEAST` for these tests."""
COUNTS_SEEN_WITHIN = 10.0
"""Seconds for a closed connection's writes to reach the statistics views."""


@pytest.fixture
def own_database() -> Iterator[str]:
    dsn = create_postgres_database()
    yield dsn
    drop_postgres_database(dsn)


@pytest.fixture(autouse=True)
def few_rows_are_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner_statistics, "ROWS_MOVED_AT_LEAST", AT_LEAST)


async def run(dsn: str, *statements: str) -> None:
    """On a connection of its own, closed at the end."""
    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def counted(dsn: str, table: str) -> tuple[int, float]:
    """(live rows as the statistics views count them, rows the last ANALYZE counted or -1)."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT n_live_tup, reltuples FROM pg_stat_user_tables JOIN pg_class ON oid = relid"
            " WHERE pg_stat_user_tables.relname = $1",
            table,
        )
        return int(row["n_live_tup"]), float(row["reltuples"])
    finally:
        await connection.close()


async def grows_to(dsn: str, rows: int) -> None:
    """Insert into `grows` until it holds `rows`, and wait for the statistics to count them."""
    live, _ = await counted(dsn, "grows")
    await run(dsn, f"INSERT INTO grows SELECT generate_series(1, {rows - live})")
    await until_counted(dsn, rows)


async def until_counted(dsn: str, rows: int) -> None:
    """Until the statistics views count `rows` live rows in `grows`."""
    async with asyncio.timeout(COUNTS_SEEN_WITHIN):
        while (await counted(dsn, "grows"))[0] != rows:  # noqa: ASYNC110 -- another process counts
            await asyncio.sleep(0.05)


async def analyzed_now(dsn: str, tables: tuple[str, ...] = ("grows",)) -> list[str]:
    engine = create_engine(make_url(dsn).set(drivername="postgresql+asyncpg"), autocommit=True)
    try:
        async with engine.connect() as connection:
            return await analyze_moved_tables(connection, tables)
    finally:
        await engine.dispose()


GROWS = "CREATE TABLE grows (n integer) WITH (autovacuum_enabled = off)"
"""Analyzed by nothing but what is tested."""


async def test_a_table_is_analyzed_when_its_size_moved_by_a_tenth_and_not_before(own_database: str) -> None:
    await run(own_database, GROWS)
    assert await analyzed_now(own_database) == [], "a new database: nothing holds rows"

    await grows_to(own_database, 100)
    assert await analyzed_now(own_database) == ["public.grows"]
    assert await counted(own_database, "grows") == (100, 100)

    await run(own_database, "UPDATE grows SET n = n + 1")  # every row changed, the size held
    await grows_to(own_database, 110)  # by less than a tenth and `AT_LEAST`
    assert await analyzed_now(own_database) == []

    await run(own_database, "DELETE FROM grows WHERE n > 50")
    await until_counted(own_database, 59)
    assert await analyzed_now(own_database) == ["public.grows"], "shrunk"
    assert await counted(own_database, "grows") == (59, 59)


async def test_the_service_analyzes_its_own_tables_as_a_job(
    own_database: str, tmp_path: Path, clock: FixedClock
) -> None:
    await run(own_database, GROWS, "ALTER TABLE used_challenges SET (autovacuum_enabled = off)")
    await grows_to(own_database, 3 * AT_LEAST)
    await run(
        own_database,
        f"INSERT INTO used_challenges SELECT 'nonce ' || n, now() FROM generate_series(1, {3 * AT_LEAST}) AS n",
    )
    async with asyncio.timeout(COUNTS_SEEN_WITHIN):
        while (await counted(own_database, "used_challenges"))[0] != 3 * AT_LEAST:  # noqa: ASYNC110 -- as above
            await asyncio.sleep(0.05)

    async with running_nodes(own_database, tmp_path, clock) as (node, _):
        await node.database.keep_statistics()
        other_node = await asyncpg.connect(own_database)
        try:  # the lock was given back, though the connection that held it stays in its pool
            assert await other_node.fetchval("SELECT pg_try_advisory_lock($1)", ONE_NODE_AT_A_TIME)
        finally:
            await other_node.close()

    assert await counted(own_database, "used_challenges") == (3 * AT_LEAST, 3 * AT_LEAST)
    assert await counted(own_database, "grows") == (3 * AT_LEAST, -1), "not one of the service's tables"


async def test_one_node_at_a_time(own_database: str) -> None:
    await run(own_database, GROWS)
    await grows_to(own_database, 3 * AT_LEAST)
    other_node = await asyncpg.connect(own_database)
    try:
        assert await other_node.fetchval("SELECT pg_try_advisory_lock($1)", ONE_NODE_AT_A_TIME)
        assert await analyzed_now(own_database) == []
        await other_node.execute("SELECT pg_advisory_unlock($1)", ONE_NODE_AT_A_TIME)
        assert await analyzed_now(own_database) == ["public.grows"]
    finally:
        await other_node.close()
