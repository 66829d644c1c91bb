"""Webhook endpoints, their deliveries and attempts, over the `webhook_*` tables.

Deliveries of events are written by `event_log.append_events`, with the event; the worker leases them and
records most attempts through `webhook_queue.py`; here they are listed for the agent, sent again on
request, and a delivery's last failure is recorded with its endpoint turned off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.event_log import delivery_row
from mailservice.adapters.db.tables import mailboxes, webhook_attempts, webhook_deliveries, webhook_endpoints
from mailservice.domain.events import DomainEvent, WebhookQueued
from mailservice.domain.webhooks import (
    WEBHOOK_TEST,
    Attempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

MAX_ERROR_CHARS = 500


class SqlWebhookRepository:
    def __init__(self, connection: AsyncConnection, record: Callable[[DomainEvent], None]) -> None:
        self._connection = connection
        self._record = record

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._connection.execute(
            insert(webhook_endpoints).values(
                id=endpoint.id,
                mailbox_id=endpoint.mailbox_id,
                url=endpoint.url,
                events=" ".join(endpoint.events),
                q=endpoint.q,
                created_at=endpoint.created_at,
            )
        )

    async def endpoints(self, mailbox_id: str) -> list[WebhookEndpoint]:
        query = (
            select(webhook_endpoints)
            .where(webhook_endpoints.c.mailbox_id == mailbox_id)
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
        return [endpoint_of_row(row) for row in (await self._connection.execute(query)).mappings()]

    async def endpoints_for_update(self, mailbox_id: str) -> list[WebhookEndpoint]:
        """The mailbox row is locked (PostgreSQL; SQLite's writers take turns already), in the order every
        writer takes it: the mailbox before its endpoints and deliveries."""
        await self._connection.execute(
            select(mailboxes.c.id).where(mailboxes.c.id == mailbox_id).with_for_update(key_share=True)
        )
        return await self.endpoints(mailbox_id)

    async def endpoint(self, mailbox_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        query = select(webhook_endpoints).where(
            webhook_endpoints.c.mailbox_id == mailbox_id, webhook_endpoints.c.id == endpoint_id
        )
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else endpoint_of_row(row)

    async def remove(self, mailbox_id: str, endpoint_id: str) -> bool:
        result = await self._connection.execute(
            delete(webhook_endpoints).where(
                webhook_endpoints.c.mailbox_id == mailbox_id, webhook_endpoints.c.id == endpoint_id
            )
        )
        return int(result.rowcount) == 1

    async def add_test_delivery(self, endpoint_id: str, now: datetime) -> int:
        row = delivery_row(endpoint_id, None, WEBHOOK_TEST, now)
        result = await self._connection.execute(insert(webhook_deliveries).values(**row))
        assert result.inserted_primary_key is not None
        self._record(WebhookQueued())
        return int(result.inserted_primary_key[0])

    async def deliveries(
        self, endpoint_id: str, limit: int, before_id: int | None = None
    ) -> list[WebhookDelivery]:
        """Newest first, each with its attempts."""
        query = select(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        if before_id is not None:
            query = query.where(webhook_deliveries.c.id < before_id)
        rows = (
            (await self._connection.execute(query.order_by(webhook_deliveries.c.id.desc()).limit(limit)))
            .mappings()
            .all()
        )
        history = await self._attempts([row["id"] for row in rows])
        return [delivery_of_row(row, history.get(row["id"], ())) for row in rows]

    async def delivery(self, endpoint_id: str, delivery_id: int) -> WebhookDelivery | None:
        query = select(webhook_deliveries).where(
            webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.id == delivery_id
        )
        row = (await self._connection.execute(query)).mappings().first()
        if row is None:
            return None
        return delivery_of_row(row, (await self._attempts([delivery_id])).get(delivery_id, ()))

    async def send_again(self, delivery_id: int, now: datetime) -> None:
        """Due now, as pending; a delivery being sent keeps its lease."""
        await self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now)
        )
        self._record(WebhookQueued())

    async def record_attempt(
        self,
        delivery: WebhookDelivery,
        attempt: Attempt,
        status: DeliveryStatus,
        next_attempt_at: datetime,
    ) -> None:
        """Nothing, when the delivery went with its endpoint while it was being sent."""
        updated = await self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id)
            .values(
                attempts=webhook_deliveries.c.attempts + 1,
                status=status.value,
                next_attempt_at=next_attempt_at,
            )
        )
        if int(updated.rowcount) == 0:
            return
        await self._connection.execute(
            insert(webhook_attempts).values(
                delivery_id=delivery.id,
                attempted_at=attempt.at,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=None if attempt.error is None else attempt.error[:MAX_ERROR_CHARS],
            )
        )

    async def mark_skipped(self, delivery_id: int) -> None:
        await self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(status=DeliveryStatus.SKIPPED.value)
        )

    async def endpoint_answered(self, endpoint_id: str, ok: bool, now: datetime) -> datetime | None:
        """Note a success (the endpoint is healthy) or a failure; returns since when it has been failing."""
        failing_since = None if ok else func.coalesce(webhook_endpoints.c.failing_since, now)
        result = await self._connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(failing_since=failing_since)
            .returning(webhook_endpoints.c.failing_since)
        )
        since: datetime | None = result.scalar()
        return since

    async def disable(self, endpoint_id: str, now: datetime) -> bool:
        result = await self._connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.disabled_at.is_(None))
            .values(disabled_at=now)
        )
        return int(result.rowcount) == 1

    async def enable(self, endpoint_id: str) -> None:
        await self._connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(disabled_at=None, failing_since=None)
        )
        self._record(WebhookQueued())  # what was still pending falls due again

    async def _attempts(self, delivery_ids: list[int]) -> dict[int, tuple[Attempt, ...]]:
        if not delivery_ids:
            return {}
        query = (
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
            .order_by(webhook_attempts.c.id)
        )
        found: dict[int, list[Attempt]] = {}
        for row in (await self._connection.execute(query)).mappings():
            found.setdefault(row["delivery_id"], []).append(
                Attempt(row["attempted_at"], row["status_code"], row["latency_ms"], row["error"])
            )
        return {delivery_id: tuple(attempts) for delivery_id, attempts in found.items()}


def endpoint_of_row(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        mailbox_id=row["mailbox_id"],
        url=row["url"],
        events=tuple(row["events"].split()),
        q=row["q"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        failing_since=row["failing_since"],
    )


def delivery_of_row(row: Any, history: tuple[Attempt, ...]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        history=history,
    )
