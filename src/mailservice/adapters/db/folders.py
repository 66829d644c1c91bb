"""Folders of a mailbox (INBOX always exists), each with its IMAP UID state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.tables import folders
from mailservice.domain.messages import INBOX

FIRST_UID = 1


def new_folder(mailbox_id: str, name: str, now: datetime) -> Insert:
    return folders.insert().values(
        mailbox_id=mailbox_id,
        name=name,
        uidvalidity=uidvalidity_at(now),
        uidnext=FIRST_UID,
        highestmodseq=1,
        special_use=None,
        subscribed=True,
        created_at=now,
    )


def uidvalidity_at(now: datetime) -> int:
    """A UIDVALIDITY that grows with time, as IMAP clients expect of a recreated folder."""
    return max(1, int(now.timestamp()) & 0x7FFFFFFF)


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
