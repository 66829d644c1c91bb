"""The reads that run on every EXPUNGE find what they need from an index, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from mailservice.adapters.db import message_changes
from mailservice.adapters.db.tables import MAY_BE_DELETED, messages
from mailservice.bootstrap import Runtime


async def test_messages_that_may_be_deleted_are_read_from_their_partial_index(runtime: Runtime) -> None:
    engine = runtime.database.engine
    query = select(messages.c.id, messages.c.uid, messages.c.flags).where(
        messages.c.folder_id == 7, MAY_BE_DELETED
    )
    compiled = query.compile(dialect=engine.dialect)  # bound as the server binds it
    parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters)
        else:  # an empty table: forbid the sequential scan PostgreSQL would rightly prefer
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            rows = await connection.exec_driver_sql(f"EXPLAIN {compiled}", parameters)
        plan = " ".join(str(row[-1]) for row in rows)
    assert "ix_messages_folder_id_deleted" in plan, plan


async def test_an_expunge_in_one_statement_finds_its_messages_from_the_partial_index(
    runtime: Runtime,
) -> None:
    """Planned once for any values (`engine.PLANNED_ONCE`, as on the pool that runs it)."""
    engine = runtime.database.engine
    if engine.dialect.name == "sqlite":
        pytest.skip("a PostgreSQL statement (SQLite expunges in its writer's transaction)")
    sql = message_changes.EXPUNGE_FLAGGED_IN_ONE_STATEMENT.sql_for(engine.dialect)
    async with engine.connect() as connection:
        await connection.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table
        await connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        await connection.exec_driver_sql(f"PREPARE expunge_flagged AS {sql}")
        rows = await connection.exec_driver_sql("EXPLAIN EXECUTE expunge_flagged(7, 'm', NULL)")
        plan = " ".join(str(row[-1]) for row in rows)
    assert "ix_messages_folder_id_deleted" in plan, plan
