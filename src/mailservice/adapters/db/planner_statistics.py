"""PostgreSQL: the planner's statistics of the service's tables, gathered again as soon as a table's size
has moved, not a minute or more later.

PostgreSQL plans a statement from each table's statistics, which ANALYZE gathers, and the connections
that write keep one plan per statement (`engine.PLANNED_ONCE`) until the table is analyzed again.
A table never analyzed is guessed to hold a row or two per folder: a STORE, an EXPUNGE and a read of
given messages then scanned the whole folder, more slowly as it grew. Autovacuum analyzes a table once
a tenth of it has changed, looking at most once a minute (its naptime), so a new deployment's first
minutes, and any fast growth, ran on such plans: the IMAP benchmark's load on a new database was 1.3x
faster with its tables analyzed every few seconds. So the service looks every
`database.STATISTICS_SECONDS` (one read of the statistics views) for its tables whose count of live rows
has moved by more than a tenth, and `ROWS_MOVED_AT_LEAST`, from what their last ANALYZE counted (from
nothing when never analyzed), and analyzes those. A table whose size holds still is never analyzed by
it, whatever its rows' changes (flags), which autovacuum still sees to.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

ROWS_MOVED_AT_LEAST = 200
SHARE_MOVED_AT_LEAST = 0.1

_MOVED = """
    SELECT quote_ident(tables.relname) AS name
    FROM pg_stat_user_tables AS tables JOIN pg_class ON pg_class.oid = tables.relid
    WHERE tables.schemaname = current_schema()
        AND abs(tables.n_live_tup - greatest(pg_class.reltuples, 0)) > $1 + $2 * greatest(pg_class.reltuples, 0)
    ORDER BY tables.relname
"""
"""`reltuples` is what the last ANALYZE (or VACUUM) counted; -1 when the table never had either."""


async def analyze_moved_tables(connection: Any) -> list[str]:
    """Analyze the tables whose size moved (on `connection`, asyncpg's, outside a transaction); their
    names, quoted."""
    moved = [row["name"] for row in await connection.fetch(_MOVED, ROWS_MOVED_AT_LEAST, SHARE_MOVED_AT_LEAST)]
    if moved:
        await connection.execute(f"ANALYZE {', '.join(moved)}")  # names the catalog gave, quoted by it
        log.debug("db.analyzed tables=%s", ",".join(moved))
    return moved
