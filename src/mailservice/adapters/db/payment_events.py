"""Provider events already processed, so a webhook delivered again changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import payment_events


class SqlPaymentEventRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def record(self, provider: str, event_id: str, event_type: str, now: datetime) -> bool:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    payment_events.insert().values(
                        provider=provider, event_id=event_id, event_type=event_type, processed_at=now
                    )
                )
        except IntegrityError:
            return False
        return True

    async def forget_before(self, cutoff: datetime) -> int:
        result = await self._connection.execute(
            delete(payment_events).where(payment_events.c.processed_at < cutoff)
        )
        return int(result.rowcount)
