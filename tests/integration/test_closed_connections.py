"""A pooled PostgreSQL connection that the server closed is replaced when taken, without a failed read."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from mailservice.bootstrap import Runtime


async def test_reads_and_writes_go_on_after_the_server_closes_pooled_connections(runtime: Runtime) -> None:
    database = runtime.database
    if database.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite has no server to close connections")
    pids = await asyncio.gather(*(database.run_read(_backend_pid) for _ in range(4)))
    await database.run_write(_backend_pid)

    admin = await asyncpg.connect(database.url.set(drivername="postgresql").render_as_string(False))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database.url.database,
        )
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the driver hears of the closed sockets from the event loop

    after = await asyncio.gather(*(database.run_read(_backend_pid) for _ in range(4)))
    assert not set(after) & set(pids)
    assert await database.run_write(_backend_pid) not in pids


def _backend_pid(connection: object) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())  # type: ignore[attr-defined]
