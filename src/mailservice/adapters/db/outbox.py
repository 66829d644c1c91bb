"""The notification outbox: written in the same transaction as the change it reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import outbox
from mailservice.domain.events import DomainEvent, NotificationQueued
from mailservice.domain.notification import Notification, QueuedNotification

PENDING = "pending"
SENT = "sent"
FAILED = "failed"


class SqlOutboxRepository:
    def __init__(self, connection: AsyncConnection, record: Callable[[DomainEvent], None]) -> None:
        self._connection = connection
        self._record = record

    async def enqueue(self, notification: Notification, now: datetime) -> None:
        await self._connection.execute(
            outbox.insert().values(
                kind=notification.kind,
                recipient=notification.recipient,
                subject=notification.subject,
                body_text=notification.text,
                body_html=notification.html,
                dedupe_key=notification.dedupe_key,
                reply_to=notification.reply_to,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        self._record(NotificationQueued())

    async def recently_queued(self, dedupe_key: str, since: datetime) -> bool:
        query = (
            select(outbox.c.id)
            .where(outbox.c.dedupe_key == dedupe_key, outbox.c.created_at >= since)
            .limit(1)
        )
        return (await self._connection.execute(query)).first() is not None

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[QueuedNotification]:
        query = (
            select(outbox)
            .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._connection.execute(query)).mappings().all()
        if rows:
            await self._connection.execute(
                update(outbox)
                .where(outbox.c.id.in_([row["id"] for row in rows]))
                .values(next_attempt_at=lease_until)
            )
        return [
            QueuedNotification(
                id=row["id"],
                notification=Notification(
                    kind=row["kind"],
                    recipient=row["recipient"],
                    subject=row["subject"],
                    text=row["body_text"],
                    html=row["body_html"],
                    dedupe_key=row["dedupe_key"],
                    reply_to=row["reply_to"],
                ),
                attempts=row["attempts"],
                created_at=row["created_at"],
            )
            for row in rows
        ]

    async def mark_sent(self, notification_id: int, now: datetime) -> None:
        await self._connection.execute(
            update(outbox)
            .where(outbox.c.id == notification_id)
            .values(status=SENT, sent_at=now, attempts=outbox.c.attempts + 1, last_error=None)
        )

    async def mark_failed(
        self, notification_id: int, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        values: dict[str, object] = {"attempts": outbox.c.attempts + 1, "last_error": error[:2000]}
        if retry_at is None:
            values["status"] = FAILED
        else:
            values["next_attempt_at"] = retry_at
        await self._connection.execute(update(outbox).where(outbox.c.id == notification_id).values(**values))
