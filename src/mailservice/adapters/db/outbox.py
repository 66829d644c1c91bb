"""The notification outbox: written in the same transaction as the change it reports.

Bodies can carry live secrets (a recovery link), so they are sealed while queued and dropped once the
notification is sent or given up: the subject, recipient and status stay for the record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import RowMapping, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.leases import lease_due
from mailservice.adapters.db.sealed_text import TextSealer, UnsealError
from mailservice.adapters.db.tables import outbox
from mailservice.domain.events import DomainEvent, NotificationQueued
from mailservice.domain.notification import Notification, QueuedNotification

log = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
DROPPED_BODY = "(not kept once sent or given up)"


class SqlOutboxRepository:
    def __init__(
        self, connection: AsyncConnection, sealer: TextSealer, record: Callable[[DomainEvent], None]
    ) -> None:
        self._connection = connection
        self._sealer = sealer
        self._record = record

    async def enqueue(self, notification: Notification, now: datetime) -> None:
        await self._connection.execute(
            outbox.insert().values(
                kind=notification.kind,
                recipient=notification.recipient,
                subject=notification.subject,
                body_text=self._sealer.seal(notification.text),
                body_html=self._sealer.seal(notification.html),
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
        rows = await lease_due(self._connection, outbox, outbox.c.status == PENDING, now, lease_until, limit)
        return await self._opened(rows, now)

    async def _opened(self, rows: Sequence[RowMapping], now: datetime) -> list[QueuedNotification]:
        opened = []
        for row in rows:
            try:
                opened.append(self._queued(row))
            except UnsealError as error:
                log.error("notification.unreadable id=%s kind=%s", row["id"], row["kind"])
                await self.mark_failed(row["id"], str(error), None, now)
        return opened

    def _queued(self, row: RowMapping) -> QueuedNotification:
        return QueuedNotification(
            id=row["id"],
            notification=Notification(
                kind=row["kind"],
                recipient=row["recipient"],
                subject=row["subject"],
                text=self._sealer.open(row["body_text"]),
                html=self._sealer.open(row["body_html"]),
                dedupe_key=row["dedupe_key"],
                reply_to=row["reply_to"],
            ),
            attempts=row["attempts"],
            created_at=row["created_at"],
        )

    async def mark_sent(self, notification_id: int, now: datetime) -> None:
        await self._connection.execute(
            update(outbox)
            .where(outbox.c.id == notification_id)
            .values(
                status=SENT,
                sent_at=now,
                attempts=outbox.c.attempts + 1,
                last_error=None,
                body_text=DROPPED_BODY,
                body_html=DROPPED_BODY,
            )
        )

    async def mark_failed(
        self, notification_id: int, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        values: dict[str, object] = {"attempts": outbox.c.attempts + 1, "last_error": error[:2000]}
        if retry_at is None:
            values.update(status=FAILED, body_text=DROPPED_BODY, body_html=DROPPED_BODY)
        else:
            values["next_attempt_at"] = retry_at
        await self._connection.execute(update(outbox).where(outbox.c.id == notification_id).values(**values))

    async def drop_finished_bodies(self) -> int:
        """Drop the bodies still kept by notifications sent or given up before bodies were dropped."""
        result = await self._connection.execute(
            update(outbox)
            .where(outbox.c.status.in_([SENT, FAILED]), outbox.c.body_text != DROPPED_BODY)
            .values(body_text=DROPPED_BODY, body_html=DROPPED_BODY)
        )
        return result.rowcount
