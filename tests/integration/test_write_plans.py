"""On PostgreSQL a write statement is planned once per connection, not at every run (`engine.py`,
`WRITES_PLANNED_ONCE`): planning APPEND's statement again for each message cost more of PostgreSQL's CPU
than anything else the IMAP load asked of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.engine import POOL_SIZE
from mailservice.bootstrap import Runtime
from mailservice.domain.clock import FixedClock
from tests.integration.test_write_locks import message, paid_mailbox, running_nodes, sessions_of

APPENDS = 12
"""More than the five runs after which PostgreSQL first weighs a plan for any values."""


@pytest.fixture
async def node(database_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Runtime]:
    async with running_nodes(database_dsn, tmp_path, clock) as started:
        if started[0].database.engine.dialect.name == "sqlite":
            pytest.skip("SQLite plans each statement once per prepared statement anyway")
        yield started[0]


async def plans_of_append(connection: AsyncConnection) -> tuple[int, int]:
    """(plans for any values, plans for the values given) of APPEND's statement on this connection."""
    plans = (
        (
            await connection.exec_driver_sql(
                "SELECT coalesce(sum(generic_plans), 0) AS generic, coalesce(sum(custom_plans), 0) AS custom"
                " FROM pg_prepared_statements WHERE statement LIKE '%locked.uidnext + place%'"
                " AND statement NOT LIKE '%pg_prepared_statements%'"  # this very statement
            )
        )
        .mappings()
        .one()
    )
    return int(plans["generic"]), int(plans["custom"])


async def test_appends_are_not_planned_again_for_each_message(node: Runtime) -> None:
    (session,) = await sessions_of([node], await paid_mailbox([node]), 1)
    for number in range(APPENDS):
        await session.append("INBOX", message(f"planned {number}"), frozenset(), None)

    async with AsyncExitStack() as stack:  # every connection of the pool at once: one of them appended
        connections = [
            await stack.enter_async_context(node.database.engine.connect()) for _ in range(POOL_SIZE)
        ]
        plans = [await plans_of_append(connection) for connection in connections]

    generic, custom = (sum(column) for column in zip(*plans, strict=True))
    assert (generic, custom) == (APPENDS, 0)
