"""Support messages agents sent, kept to enforce the per-key hourly limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import support_messages


class SqlSupportMessageRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, key_fingerprint: str, subject: str, now: datetime) -> None:
        await self._connection.execute(
            support_messages.insert().values(key_fingerprint=key_fingerprint, subject=subject, created_at=now)
        )

    async def count_since(self, key_fingerprint: str, since: datetime) -> int:
        query = select(func.count()).where(
            support_messages.c.key_fingerprint == key_fingerprint, support_messages.c.created_at > since
        )
        return int((await self._connection.execute(query)).scalar_one())
