"""Claiming due work from a queue table, so that several nodes share it without doing one item twice.

Due rows are selected `FOR UPDATE SKIP LOCKED` (on PostgreSQL; SQLite has one writer at a time) and
their `next_attempt_at` is moved to the end of a lease before the claiming transaction commits. Until
then no other claimer sees them; if the claimer dies while working, they fall due again when the lease
ends and are taken up where they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, RowMapping, Table, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

Choose = Callable[[Sequence[RowMapping]], Sequence[RowMapping]]


async def lease_due(
    connection: AsyncConnection,
    table: Table,
    waiting: ColumnElement[bool],
    now: datetime,
    lease_until: datetime,
    limit: int,
    choose: Choose = lambda rows: rows,
) -> Sequence[RowMapping]:
    """`lease_due_rows` on an async connection."""
    return await connection.run_sync(
        lambda sync: lease_due_rows(sync, table, waiting, now, lease_until, limit, choose)
    )


def lease_due_rows(
    connection: Connection,
    table: Table,
    waiting: ColumnElement[bool],
    now: datetime,
    lease_until: datetime,
    limit: int,
    choose: Choose = lambda rows: rows,
) -> Sequence[RowMapping]:
    """Lease up to `limit` rows that are `waiting` and due, oldest first; `choose` may keep fewer."""
    query = (
        select(table)
        .where(waiting, table.c.next_attempt_at <= now)
        .order_by(table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = choose(connection.execute(query).mappings().all())
    if rows:
        connection.execute(
            update(table)
            .where(table.c.id.in_([row["id"] for row in rows]))
            .values(next_attempt_at=lease_until)
        )
    return rows
