"""PostgreSQL: the planner's statistics of the service's tables, gathered again as soon as a table's size
has moved, not a minute or more later.

PostgreSQL plans a statement from each table's statistics, which ANALYZE gathers, and the pools of the
hot paths keep one plan per statement (`engine.PLANNED_ONCE`) until the table is analyzed again. A
table never analyzed is guessed to hold a row or two per folder: a STORE, an EXPUNGE and a read of
given messages then scanned the whole folder, more slowly as it grew. Autovacuum analyzes a table once
a tenth of it has changed, looking at most once a minute (its naptime), so a new deployment's first
minutes, and any fast growth, ran on such plans: the IMAP benchmark's load on a new database ran 1.59x
the commands/s with this. So each node looks every `database.STATISTICS_SECONDS` (one read of the
statistics views) for the service's tables whose count of live rows has moved by more than a tenth,
and `ROWS_MOVED_AT_LEAST`, from what their last ANALYZE counted (from nothing when never analyzed), and
analyzes those. A table whose size holds still is never analyzed by it, whatever its rows' changes
(flags), which autovacuum still sees to.

One node at a time (an advisory lock; the others skip their turn), only tables the service's role may
analyze (it owns them when it migrated them), and `SKIP_LOCKED`: a table an autovacuum is at is left to
it rather than waited for, which would cancel the autovacuum.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import metadata

log = logging.getLogger(__name__)

ROWS_MOVED_AT_LEAST = 200
SHARE_MOVED_AT_LEAST = 0.1
SERVICE_TABLES = tuple(table.name for table in metadata.sorted_tables)
ONE_NODE_AT_A_TIME = 0x6D61696C_73746174
"""The advisory lock a node holds while it looks for tables to analyze and analyzes them."""

_MOVED = text(
    """
    SELECT format('%I.%I', tables.schemaname, tables.relname) AS name
    FROM pg_stat_user_tables AS tables JOIN pg_class ON pg_class.oid = tables.relid
    WHERE tables.schemaname = current_schema() AND tables.relname IN :tables
        AND pg_has_role(pg_class.relowner, 'USAGE')
        AND abs(tables.n_live_tup - greatest(pg_class.reltuples, 0))
            > :at_least + :share * greatest(pg_class.reltuples, 0)
    ORDER BY tables.relname
    """
).bindparams(bindparam("tables", expanding=True))
"""`reltuples` is what the last ANALYZE (or VACUUM) counted; -1 when the table never had either."""
_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


async def analyze_moved_tables(
    connection: AsyncConnection, tables: Sequence[str] = SERVICE_TABLES
) -> list[str]:
    """Analyze those of `tables` whose size moved (`connection` in autocommit); their names, qualified
    and quoted. Nothing while another node is at it."""
    if not (await connection.execute(_LOCK, {"key": ONE_NODE_AT_A_TIME})).scalar_one():
        return []
    try:
        asked = {"tables": list(tables), "at_least": ROWS_MOVED_AT_LEAST, "share": SHARE_MOVED_AT_LEAST}
        moved = [str(name) for name in (await connection.execute(_MOVED, asked)).scalars()]
        for name in moved:
            try:  # one at a time: a table dropped meanwhile fails its own ANALYZE alone
                await connection.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {name}")  # quoted by format()
            except DBAPIError:
                log.warning("db.analyze_failed table=%s", name, exc_info=True)
        if moved:
            log.debug("db.analyzed tables=%s", ",".join(moved))
        return moved
    finally:
        await _unlock(connection)


async def _unlock(connection: AsyncConnection) -> None:
    """Give the lock back, or end the session that holds it: a pooled connection must never keep it (every
    node would skip its turn for good). A connection that failed (or whose statement was cancelled) was
    invalidated already, and its session and lock are gone with it."""
    if connection.invalidated:
        return
    try:
        await connection.execute(_UNLOCK, {"key": ONE_NODE_AT_A_TIME})
    except BaseException:
        await connection.invalidate()
        raise
