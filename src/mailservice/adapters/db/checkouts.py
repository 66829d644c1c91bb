"""Checkout repository over the `checkouts` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import checkouts
from mailservice.domain.payment import Checkout, CheckoutStatus


class SqlCheckoutRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, checkout_id: str) -> Checkout | None:
        return await self._first(select(checkouts).where(checkouts.c.id == checkout_id))

    async def latest_for_mailbox(self, mailbox_id: str) -> Checkout | None:
        query = (
            select(checkouts)
            .where(checkouts.c.mailbox_id == mailbox_id)
            # Of checkouts made at one instant (a coarse clock), the open one: the one to reuse.
            .order_by(checkouts.c.created_at.desc(), (checkouts.c.status == CheckoutStatus.OPEN.value).desc())
            .limit(1)
        )
        return await self._first(query)

    async def add(self, checkout: Checkout) -> None:
        await self._connection.execute(
            checkouts.insert().values(
                id=checkout.id,
                mailbox_id=checkout.mailbox_id,
                provider=checkout.provider,
                url=checkout.url,
                status=checkout.status.value,
                months=checkout.months,
                created_at=checkout.created_at,
                paid_at=checkout.paid_at,
                expires_at=checkout.expires_at,
            )
        )

    async def open_after(self, after_id: str, limit: int) -> list[Checkout]:
        query = (
            select(checkouts)
            .where(checkouts.c.status == CheckoutStatus.OPEN.value, checkouts.c.id > after_id)
            .order_by(checkouts.c.id)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).mappings().all()
        return [_checkout_of_row(row) for row in rows]

    async def mark(self, checkout_id: str, status: CheckoutStatus, now: datetime) -> bool:
        values: dict[str, Any] = {"status": status.value}
        if status is CheckoutStatus.PAID:
            values["paid_at"] = now
        result = await self._connection.execute(
            update(checkouts)
            .where(checkouts.c.id == checkout_id, checkouts.c.status != status.value)
            .values(**values)
        )
        return int(result.rowcount) == 1

    async def _first(self, query: Any) -> Checkout | None:
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else _checkout_of_row(row)


def _checkout_of_row(row: Any) -> Checkout:
    return Checkout(
        id=row["id"],
        mailbox_id=row["mailbox_id"],
        provider=row["provider"],
        url=row["url"],
        status=CheckoutStatus(row["status"]),
        months=row["months"],
        created_at=row["created_at"],
        paid_at=row["paid_at"],
        expires_at=row["expires_at"],
    )
