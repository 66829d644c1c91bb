"""Webhook endpoints, their deliveries and attempts, over the `webhook_*` tables.

Deliveries of events are written by `event_log.append_events`, with the event; here they are claimed
for sending (leased, see `leases.py`), their attempts recorded, and listed for the agent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.event_log import delivery_row, logged_event
from mailservice.adapters.db.leases import lease_due
from mailservice.adapters.db.tables import event_log, webhook_attempts, webhook_deliveries, webhook_endpoints
from mailservice.domain.events import DomainEvent, WebhookQueued
from mailservice.domain.webhooks import (
    WEBHOOK_TEST,
    Attempt,
    ClaimedDelivery,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

MAX_ERROR_CHARS = 500
# Labels of the endpoint's and the event's columns when joined to a delivery's, whose names they share.
_ENDPOINT = "endpoint__"
_EVENT = "event__"


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
        return [_endpoint(row) for row in (await self._connection.execute(query)).mappings()]

    async def endpoint(self, mailbox_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        query = select(webhook_endpoints).where(
            webhook_endpoints.c.mailbox_id == mailbox_id, webhook_endpoints.c.id == endpoint_id
        )
        row = (await self._connection.execute(query)).mappings().first()
        return None if row is None else _endpoint(row)

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
        return [_delivery(row, history.get(row["id"], ())) for row in rows]

    async def delivery(self, endpoint_id: str, delivery_id: int) -> WebhookDelivery | None:
        query = select(webhook_deliveries).where(
            webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.id == delivery_id
        )
        row = (await self._connection.execute(query)).mappings().first()
        if row is None:
            return None
        return _delivery(row, (await self._attempts([delivery_id])).get(delivery_id, ()))

    async def send_again(self, delivery_id: int, now: datetime) -> None:
        """Due now, as pending; a delivery being sent keeps its lease."""
        await self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now)
        )
        self._record(WebhookQueued())

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, room: dict[str, int], per_endpoint: int
    ) -> list[ClaimedDelivery]:
        """Lease due deliveries of enabled endpoints, at most `room.get(endpoint, per_endpoint)` each;
        endpoints with no room are not even looked at."""
        full = [endpoint_id for endpoint_id, free in room.items() if free <= 0]
        enabled = select(webhook_endpoints.c.id).where(webhook_endpoints.c.disabled_at.is_(None))
        waiting = (
            webhook_deliveries.c.status == DeliveryStatus.PENDING.value
        ) & webhook_deliveries.c.endpoint_id.in_(enabled)
        if full:
            waiting = waiting & webhook_deliveries.c.endpoint_id.not_in(full)

        def within_room(rows: Sequence[RowMapping]) -> list[RowMapping]:
            taken: dict[str, int] = {}
            kept = []
            for row in rows:
                endpoint_id = row["endpoint_id"]
                if taken.get(endpoint_id, 0) < room.get(endpoint_id, per_endpoint):
                    taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
                    kept.append(row)
            return kept

        rows = await lease_due(
            self._connection, webhook_deliveries, waiting, now, lease_until, limit, within_room
        )
        return await self._claimed([row["id"] for row in rows])

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

    async def _claimed(self, ids: list[int]) -> list[ClaimedDelivery]:
        if not ids:
            return []
        query = (
            select(
                webhook_deliveries,
                *_prefixed(webhook_endpoints, _ENDPOINT),
                *_prefixed(event_log, _EVENT),
            )
            .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
            .outerjoin(event_log, event_log.c.id == webhook_deliveries.c.event_id)
            .where(webhook_deliveries.c.id.in_(ids))
            .order_by(webhook_deliveries.c.id)
        )
        rows = (await self._connection.execute(query)).mappings().all()
        return [
            ClaimedDelivery(
                delivery=_delivery(row, ()),
                endpoint=_endpoint(_unprefixed(row, _ENDPOINT)),
                event=None if row["event_id"] is None else logged_event(_unprefixed(row, _EVENT)),
            )
            for row in rows
        ]

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


def _prefixed(table: Any, prefix: str) -> list[Any]:
    return [column.label(prefix + column.name) for column in table.c]


def _unprefixed(row: RowMapping, prefix: str) -> dict[str, Any]:
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


def _endpoint(row: Any) -> WebhookEndpoint:
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


def _delivery(row: Any, history: tuple[Attempt, ...]) -> WebhookDelivery:
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
