"""On PostgreSQL every connection of the service has the settings of `engine.py`: no JIT compiling
(`EVERY_CONNECTION`: compiling the read a SELECT makes took 500 ms at every run once the tables had
statistics), and on the pools of the IMAP and delivery hot paths, each statement planned once per
connection (`PLANNED_ONCE`: planning APPEND's statement again for each message cost more of
PostgreSQL's CPU than anything else the IMAP load asked of it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from mailservice.adapters.db.prepared import Prepared
from mailservice.bootstrap import Runtime
from mailservice.domain.clock import FixedClock
from tests.integration.test_write_locks import message, paid_mailbox, running_nodes, sessions_of

APPENDS = 12
"""More than the five runs after which PostgreSQL first weighs a plan for any values."""
SETTINGS = select(func.current_setting("jit"), func.current_setting("plan_cache_mode"))
NO_JIT, PLANNED_PER_RUN, PLANNED_ONCE = "off", "auto", "force_generic_plan"


@pytest.fixture
async def node(database_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Runtime]:
    async with running_nodes(database_dsn, tmp_path, clock) as started:
        if started[0].database.engine.dialect.name == "sqlite":
            pytest.skip("settings of PostgreSQL connections")
        yield started[0]


def settings(connection: Connection) -> tuple[str, str]:
    jit, plans = connection.execute(SETTINGS).one()
    return str(jit), str(plans)


def plans_of_append(connection: Connection) -> tuple[int, int]:
    """(plans for any values, plans for the values given) of APPEND's statement on this connection."""
    plans = (
        connection.exec_driver_sql(
            "SELECT coalesce(sum(generic_plans), 0) AS generic, coalesce(sum(custom_plans), 0) AS custom"
            " FROM pg_prepared_statements WHERE statement LIKE '%locked.uidnext + place%'"
            " AND statement NOT LIKE '%pg_prepared_statements%'"  # this very statement
        )
        .mappings()
        .one()
    )
    return int(plans["generic"]), int(plans["custom"])


async def test_appends_are_not_planned_again_for_each_message(node: Runtime) -> None:
    (session,) = await sessions_of([node], await paid_mailbox([node]), 1)
    for number in range(APPENDS):
        await session.append("INBOX", message(f"planned {number}"), frozenset(), None)

    # One APPEND at a time took one connection of the pool of such writes, the one asked here.
    plans = await node.database.run_write(plans_of_append, statements_commit_alone=True)

    assert plans == (APPENDS, 0)


async def test_every_way_to_the_database_compiles_nothing_and_writes_plan_once(node: Runtime) -> None:
    database = node.database
    statement = Prepared(SETTINGS)
    async with database.connection(read_only=True) as reading:
        read_in_a_snapshot = tuple(map(str, (await reading.execute(SETTINGS)).one()))
    async with database.connection() as writing:
        unit_of_work = tuple(map(str, (await writing.execute(SETTINGS)).one()))

    ways = {
        "one-statement read": tuple((await database.read_statement(statement, {}))[0]),
        "read in a snapshot": read_in_a_snapshot,
        "unit of work": unit_of_work,
        "one-statement write": tuple((await database.write_statement(statement, {}))[0]),
        "durable write": await database.run_write(settings),
        "write not durable": await database.run_write(settings, durable=False),
        "statements committed alone": await database.run_write(settings, statements_commit_alone=True),
        "delivery group": await database.run_group_write(settings),
    }

    choosing = ("read in a snapshot", "unit of work", "durable write")  # their plans may need the values
    assert ways == {way: (NO_JIT, PLANNED_PER_RUN if way in choosing else PLANNED_ONCE) for way in ways}
