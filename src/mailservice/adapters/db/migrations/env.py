"""Alembic environment: runs migrations over the async engine given by `mailservice migrate`."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.tables import metadata

log = logging.getLogger("mailservice.migrate")  # alembic loads this file under a name of its own


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # SQLite's DDL is transactional too (the engine, not the driver, begins its transactions): all
        # migrations of a run commit together, after the references are checked, or none does.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        checked = connection.dialect.name == "sqlite" and _pending()
        broken_before = _broken_references(connection) if checked else Counter()
        context.run_migrations()
        if checked:
            _refuse_new_broken_references(connection, broken_before)


def _pending() -> bool:
    return set(context.get_context().get_current_heads()) != set(context.script.get_heads())


def _broken_references(connection: Connection) -> Counter[tuple[str, str, int]]:
    """How many rows of each (table, parent table, key) name no row. Counted, not listed by rowid: a
    rebuilt table numbers its rows again."""
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    return Counter((str(table), str(parent), int(key)) for table, _rowid, parent, key in rows)


def _refuse_new_broken_references(connection: Connection, before: Counter[tuple[str, str, int]]) -> None:
    """Only what the migrations broke stops them; rows broken before (edited by hand with foreign keys
    off, say) are named in the log, not held against every later migration."""
    after = _broken_references(connection)
    if after - before:
        tables = sorted({table for table, _parent, _key in after - before})
        raise RuntimeError(f"the migration left rows of {', '.join(tables)} whose references are broken")
    if after:
        tables = sorted({table for table, _parent, _key in after})
        log.warning("migrate.broken_references_before tables=%s rows=%d", ",".join(tables), after.total())


def _without_foreign_keys(engine: AsyncEngine) -> None:
    """SQLite rebuilds a table to change it; with foreign keys on, dropping the old table would delete
    the rows that refer to it (ON DELETE CASCADE). So migrations run with them off, as SQLite's own
    procedure for such changes says, and the references are checked before the commit instead. The
    setting can only change outside a transaction: when the connection is made."""

    @event.listens_for(engine.sync_engine, "connect")
    def foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()


async def _run_async(url: URL) -> None:
    engine = create_engine(url, pool_size=1)
    if engine.dialect.name == "sqlite":
        _without_foreign_keys(engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


url = context.config.attributes["url"]
asyncio.run(_run_async(url))
