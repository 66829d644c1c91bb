"""Queries for operators: counts across the store, and repairs of mailbox rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.folders import new_folder
from mailservice.adapters.db.outbox import PENDING
from mailservice.adapters.db.tables import accounts, checkouts, folders, mailboxes, outbox, webhook_deliveries
from mailservice.domain.events import DomainEvent
from mailservice.domain.messages import INBOX, AccessRevoked


class SqlAdminRepository:
    def __init__(self, connection: AsyncConnection, record: Callable[[DomainEvent], None]) -> None:
        self._connection = connection
        self._record = record

    async def counts(self) -> dict[str, dict[str, int]]:
        """Rows by status: mailboxes, checkouts, the notification outbox and webhook deliveries; and the
        number of accounts."""
        tables = (
            ("mailboxes", mailboxes),
            ("checkouts", checkouts),
            ("outbox", outbox),
            ("webhook_deliveries", webhook_deliveries),
        )
        result = {name: await self._by_status(table.c.status) for name, table in tables}
        total = (await self._connection.execute(select(func.count()).select_from(accounts))).scalar_one()
        result["accounts"] = {"total": int(total)}
        return result

    async def oldest_pending_notification(self) -> datetime | None:
        query = select(func.min(outbox.c.created_at)).where(outbox.c.status == PENDING)
        oldest: datetime | None = (await self._connection.execute(query)).scalar_one()
        return oldest

    async def mailbox_ids(self) -> list[str]:
        return list(
            (await self._connection.execute(select(mailboxes.c.id).order_by(mailboxes.c.id))).scalars()
        )

    async def ensure_inbox(self, mailbox_id: str, now: datetime) -> bool:
        """Create the mailbox's INBOX if it has none; True when one was created."""
        query = select(folders.c.id).where(folders.c.mailbox_id == mailbox_id, folders.c.name == INBOX)
        if (await self._connection.execute(query)).first() is not None:
            return False
        await self._connection.execute(new_folder(mailbox_id, INBOX, now))
        return True

    async def rotate_credentials(self, mailbox_id: str, now: datetime) -> None:
        """A new credential epoch: the IMAP password and the access token change."""
        await self._connection.execute(
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id)
            .values(credential_epoch=mailboxes.c.credential_epoch + 1, updated_at=now)
        )
        self._record(AccessRevoked(mailbox_id))

    async def _by_status(self, column: object) -> dict[str, int]:
        query = select(column, func.count()).group_by(column)  # type: ignore[call-overload]
        return {str(status): int(count) for status, count in await self._connection.execute(query)}
