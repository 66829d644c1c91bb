"""Used challenge nonces, kept until their challenge could no longer be accepted anyway."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import used_challenges


class SqlUsedChallengeRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def consume(self, nonce: str, expires_at: datetime) -> bool:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    used_challenges.insert().values(nonce=nonce, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True

    async def purge_expired(self, now: datetime) -> int:
        result = await self._connection.execute(
            delete(used_challenges).where(used_challenges.c.expires_at < now)
        )
        return int(result.rowcount)
