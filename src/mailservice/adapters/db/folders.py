"""Folders of a mailbox (INBOX always exists), each with its IMAP UID state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Insert, Update, case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import folders, mailboxes
from mailservice.domain.messages import INBOX

FIRST_UID = 1


def new_folder(mailbox_id: str, name: str, now: datetime) -> Insert:
    return folders.insert().values(
        mailbox_id=mailbox_id,
        name=name,
        uidvalidity=_new_uidvalidity(mailbox_id, now),
        uidnext=FIRST_UID,
        highestmodseq=1,
        special_use=None,
        subscribed=False,  # not read: see the subscriptions table
        created_at=now,
    )


def uidvalidity_at(now: datetime) -> int:
    """A UIDVALIDITY that grows with time, as IMAP clients expect of a recreated folder."""
    return max(1, int(now.timestamp()) & 0x7FFFFFFF)


def _new_uidvalidity(mailbox_id: str, now: datetime) -> ColumnElement[int]:
    """The time in seconds, or one more than any UIDVALIDITY the mailbox has given, living folders'
    and deleted ones' (the floor): no folder name ever gets one twice (RFC 3501 section 2.3.1.1)."""
    living = (
        select(func.coalesce(func.max(folders.c.uidvalidity), 0))
        .where(folders.c.mailbox_id == mailbox_id)
        .scalar_subquery()
    )
    floor = (
        select(func.coalesce(func.max(mailboxes.c.uidvalidity_floor), 0))
        .where(mailboxes.c.id == mailbox_id)
        .scalar_subquery()
    )
    return _larger(literal(uidvalidity_at(now)), _larger(living, floor) + 1)


def _larger(first: ColumnElement[int], second: ColumnElement[int]) -> ColumnElement[int]:
    return case((first > second, first), else_=second)


def remember_deleted_uidvalidity(mailbox_id: str, uidvalidity: int) -> Update:
    """Raise the mailbox's floor to a deleted folder's UIDVALIDITY, so no later folder gets it."""
    return (
        update(mailboxes)
        .where(mailboxes.c.id == mailbox_id, mailboxes.c.uidvalidity_floor < uidvalidity)
        .values(uidvalidity_floor=uidvalidity)
    )


class SqlFolderRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def create_inbox(self, mailbox_id: str, now: datetime) -> None:
        await self._connection.execute(new_folder(mailbox_id, INBOX, now))

    async def inbox_state(self, mailbox_id: str) -> tuple[int, int]:
        query = select(folders.c.id, folders.c.highestmodseq).where(
            folders.c.mailbox_id == mailbox_id, folders.c.name == INBOX
        )
        folder_id, modseq = (await self._connection.execute(query)).one()
        return int(folder_id), int(modseq)
