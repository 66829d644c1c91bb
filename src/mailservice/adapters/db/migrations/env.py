"""Alembic environment: runs migrations over the async engine given by `mailservice migrate`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.tables import metadata

log = logging.getLogger(__name__)


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
        broken_before = _broken_references(connection) if checked else set()
        context.run_migrations()
        if checked:
            _refuse_new_broken_references(connection, broken_before)


def _pending() -> bool:
    return set(context.get_context().get_current_heads()) != set(context.script.get_heads())


def _broken_references(connection: Connection) -> set[tuple[object, ...]]:
    """(table, rowid, parent table, key) of each row whose reference names no row."""
    return {tuple(row) for row in connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()}


def _refuse_new_broken_references(connection: Connection, before: set[tuple[object, ...]]) -> None:
    """Only what the migrations broke stops them; rows broken before (edited by hand with foreign keys
    off, say) are named in the log, not held against every later migration."""
    after = _broken_references(connection)
    if after - before:
        tables = sorted({str(row[0]) for row in after - before})
        raise RuntimeError(f"the migration left rows of {', '.join(tables)} whose references are broken")
    if after:
        tables = sorted({str(row[0]) for row in after})
        log.warning("migrate.broken_references_before tables=%s rows=%d", ",".join(tables), len(after))


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
