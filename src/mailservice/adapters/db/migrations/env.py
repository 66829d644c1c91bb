"""Alembic environment: runs migrations over the async engine given by `mailservice migrate`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import URL, Connection

from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: URL) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


url = context.config.attributes["url"]
asyncio.run(_run_async(url))
