"""Mailbox repository over the `mailboxes` table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.message_changes import expunge_whole_mailbox, lock_whole_mailboxes
from mailservice.adapters.db.tables import mailboxes
from mailservice.domain.errors import Conflict
from mailservice.domain.events import DomainEvent
from mailservice.domain.expiry_notice import ExpiryNotice
from mailservice.domain.mail_session import FolderWrite
from mailservice.domain.mailbox import Mailbox, MailboxStatus
from mailservice.domain.messages import AccessRevoked, FolderChanged

_NOTICE_COLUMNS = {
    ExpiryNotice.REMINDER: mailboxes.c.reminder_sent_for,
    ExpiryNotice.EXPIRED: mailboxes.c.expired_notice_sent_for,
}


class SqlMailboxRepository:
    def __init__(self, connection: AsyncConnection, record: Callable[[DomainEvent], None]) -> None:
        self._connection = connection
        self._record = record

    async def get(self, mailbox_id: str) -> Mailbox | None:
        return await self._one(mailboxes.c.id == mailbox_id)

    async def get_by_fingerprint(self, fingerprint: str) -> Mailbox | None:
        return await self._one(mailboxes.c.key_fingerprint == fingerprint)

    async def get_by_login(self, login: str) -> Mailbox | None:
        return await self._one(mailboxes.c.login == login)

    async def add(self, mailbox: Mailbox) -> None:
        try:
            await self._connection.execute(mailboxes.insert().values(**_row(mailbox)))
        except IntegrityError as error:
            raise Conflict("a mailbox with this key or login already exists") from error

    async def update(self, mailbox: Mailbox) -> None:
        values = _row(mailbox)
        del values["id"]
        await self._connection.execute(update(mailboxes).where(mailboxes.c.id == mailbox.id).values(**values))
        if mailbox.status is MailboxStatus.EXPIRED:  # lazily expired, or revoked by the payment provider
            self._record(AccessRevoked(mailbox.id))

    async def set_billing_email(self, mailbox_id: str, billing_email: str, now: datetime) -> None:
        await self._connection.execute(
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id)
            .values(billing_email=billing_email, updated_at=now)
        )

    async def due_for_notice(
        self, notice: ExpiryNotice, after: datetime, until: datetime, limit: int
    ) -> list[Mailbox]:
        status = MailboxStatus.ACTIVE if notice is ExpiryNotice.REMINDER else MailboxStatus.EXPIRED
        sent_for = _NOTICE_COLUMNS[notice]
        query = (
            select(mailboxes)
            .where(
                mailboxes.c.status == status.value,
                mailboxes.c.key_fingerprint.is_not(None),
                mailboxes.c.expires_at > after,
                mailboxes.c.expires_at <= until,
                or_(sent_for.is_(None), sent_for != mailboxes.c.expires_at),
            )
            .order_by(mailboxes.c.expires_at, mailboxes.c.id)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).mappings().all()
        return [mailbox_of_row(row) for row in rows]

    async def mark_notice_sent(self, mailbox_id: str, notice: ExpiryNotice, expires_at: datetime) -> bool:
        sent_for = _NOTICE_COLUMNS[notice]
        result = await self._connection.execute(
            update(mailboxes)
            .where(
                mailboxes.c.id == mailbox_id,
                mailboxes.c.expires_at == expires_at,
                or_(sent_for.is_(None), sent_for != expires_at),
            )
            .values({sent_for.name: expires_at})
        )
        return int(result.rowcount) == 1

    async def expire_lapsed(self, now: datetime) -> int:
        expired = await self._connection.execute(
            update(mailboxes)
            .where(mailboxes.c.status == MailboxStatus.ACTIVE.value, mailboxes.c.expires_at <= now)
            .values(status=MailboxStatus.EXPIRED.value, updated_at=now)
            .returning(mailboxes.c.id)
        )
        ids = list(expired.scalars())
        for mailbox_id in ids:
            self._record(AccessRevoked(mailbox_id))
        return len(ids)

    async def usage(self, mailbox_id: str) -> tuple[int | None, int]:
        query = select(mailboxes.c.quota_bytes, mailboxes.c.used_bytes).where(mailboxes.c.id == mailbox_id)
        row = (await self._connection.execute(query)).first()
        return (None, 0) if row is None else (row.quota_bytes, row.used_bytes)

    async def purge_mail_of_expired(self, expired_before: datetime) -> int:
        lapsed = _lapsed(expired_before)
        candidates = list((await self._connection.execute(select(mailboxes.c.id).where(lapsed))).scalars())
        if not candidates:
            return 0
        purged = await self._connection.run_sync(partial(_purge, candidates=candidates, lapsed=lapsed))
        for mailbox_id, _, writes in purged:
            for write in writes:
                self._record(FolderChanged(mailbox_id, write.folder_id, write.modseq))
        return sum(removed for _, removed, _ in purged)

    async def _one(self, condition: Any) -> Mailbox | None:
        row = (await self._connection.execute(select(mailboxes).where(condition))).mappings().first()
        return None if row is None else mailbox_of_row(row)


def _lapsed(expired_before: datetime) -> ColumnElement[bool]:
    """A mailbox whose mail is to be purged: expired before `expired_before`, with mail left."""
    return and_(
        mailboxes.c.status == MailboxStatus.EXPIRED.value,
        mailboxes.c.expires_at < expired_before,
        mailboxes.c.used_bytes > 0,
    )


def _purge(
    connection: Connection, candidates: list[str], lapsed: ColumnElement[bool]
) -> list[tuple[str, int, list[FolderWrite]]]:
    """Every folder of the candidates first, in one lock in id order (as every writer takes folders),
    then their rows, each checked again under its lock: a mailbox renewed since it was found keeps its
    mail. Per mailbox purged: its id, the messages removed and its folders' writes."""
    lock_whole_mailboxes(connection, set(candidates))
    still = select(mailboxes.c.id).where(mailboxes.c.id.in_(candidates), lapsed).order_by(mailboxes.c.id)
    purged = []
    for mailbox_id in connection.execute(still.with_for_update(key_share=True)).scalars().all():
        removed, writes = expunge_whole_mailbox(connection, mailbox_id)
        purged.append((mailbox_id, removed, writes))
    return purged


def _row(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "id": mailbox.id,
        "login": mailbox.login,
        "key_fingerprint": mailbox.key_fingerprint,
        "public_key": mailbox.public_key,
        "billing_email": mailbox.billing_email,
        "status": mailbox.status.value,
        "paid_at": mailbox.paid_at,
        "expires_at": mailbox.expires_at,
        "credential_epoch": mailbox.credential_epoch,
        "account_id": mailbox.account_id,
        "created_at": mailbox.created_at,
        "updated_at": mailbox.updated_at,
    }


def mailbox_of_row(row: Any) -> Mailbox:
    return Mailbox(
        id=row["id"],
        login=row["login"],
        key_fingerprint=row["key_fingerprint"],
        public_key=row["public_key"],
        billing_email=row["billing_email"],
        status=MailboxStatus(row["status"]),
        paid_at=row["paid_at"],
        expires_at=row["expires_at"],
        credential_epoch=row["credential_epoch"],
        account_id=row["account_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
