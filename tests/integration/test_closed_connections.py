"""A pooled PostgreSQL connection that the server closed is replaced when taken, without a failed read:
SQLAlchemy's pools and the driver's own pools of the one-statement reads and writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from mailservice.adapters.db.prepared import Prepared
from mailservice.bootstrap import Runtime


async def test_reads_and_writes_go_on_after_the_server_closes_pooled_connections(runtime: Runtime) -> None:
    database = runtime.database
    if database.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite has no server to close connections")
    pids = await asyncio.gather(*(database.run_read(_backend_pid) for _ in range(4)))
    await database.run_write(_backend_pid)
    pids += [
        await _one_statement_pid(database.read_statement),
        await _one_statement_pid(database.write_statement),
    ]

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
    assert await _one_statement_pid(database.read_statement) not in pids
    assert await _one_statement_pid(database.write_statement) not in pids


async def _one_statement_pid(run: Callable[[Prepared, dict[str, Any]], Awaitable[list[Any]]]) -> int:
    return int((await run(_PID, {}))[0].pid)


_PID = Prepared(select(func.pg_backend_pid().label("pid")))


def _backend_pid(connection: object) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())  # type: ignore[attr-defined]
