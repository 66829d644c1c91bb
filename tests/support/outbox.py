"""The notification outbox as tests read it: its rows, with queued bodies opened."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mailservice.adapters.db.sealed_text import TextSealer
from mailservice.adapters.db.tables import outbox
from mailservice.bootstrap import Runtime
from tests.conftest import TEST_SECRET

SEALER = TextSealer(TEST_SECRET.encode())


async def outbox_rows(runtime: Runtime, *kinds: str) -> list[dict[str, Any]]:
    """Every row (of `kinds`, when given), oldest first."""
    query = select(outbox).order_by(outbox.c.id)
    if kinds:
        query = query.where(outbox.c.kind.in_(kinds))
    async with runtime.engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [
        {**row, "body_text": SEALER.open(row["body_text"]), "body_html": SEALER.open(row["body_html"])}
        for row in rows
    ]
