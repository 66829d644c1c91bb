"""The reads that run on every EXPUNGE find what they need from an index, on both databases."""

from __future__ import annotations

from sqlalchemy import select, text

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
