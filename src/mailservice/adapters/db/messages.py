"""Reading and changing stored messages of a mailbox's INBOX, for the HTTP API.

Changes go through `message_changes.py`, the one path IMAP and POP3 take too, run on the unit of
work's connection; the unit of work publishes the `folder.changed` they record after its commit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db import message_changes, search_criteria_sql
from mailservice.adapters.db.tables import folders, message_raw, messages
from mailservice.domain.events import DomainEvent
from mailservice.domain.mail_session import FolderWrite
from mailservice.domain.messages import (
    INBOX,
    ExtractedCode,
    ExtractedLink,
    FolderChanged,
    StoredMessage,
)
from mailservice.domain.search import MessageQuery
from mailservice.domain.search_criteria import Everything
from mailservice.domain.sender_auth import SenderAuth

_COLUMNS_WITHOUT_TEXT = [c for c in messages.c if c.name not in ("text",)]


class SqlMessageRepository:
    def __init__(self, connection: AsyncConnection, record: Callable[[DomainEvent], None]) -> None:
        self._connection = connection
        self._record = record

    async def find(
        self,
        mailbox_id: str,
        query: MessageQuery,
        *,
        limit: int,
        after_uid: int | None = None,
        before_uid: int | None = None,
        newest_first: bool = True,
        with_text: bool = False,
    ) -> list[StoredMessage]:
        conditions = [*_inbox(mailbox_id), *_matching(query)]
        if after_uid is not None:
            conditions.append(messages.c.uid > after_uid)
        if before_uid is not None:
            conditions.append(messages.c.uid < before_uid)
        order = messages.c.uid.desc() if newest_first else messages.c.uid.asc()
        columns = [*_COLUMNS_WITHOUT_TEXT, messages.c.text] if with_text else _COLUMNS_WITHOUT_TEXT
        rows = (
            await self._connection.execute(select(*columns).where(*conditions).order_by(order).limit(limit))
        ).mappings()
        return [_message(row) for row in rows]

    async def get(self, mailbox_id: str, uid: int, with_text: bool = True) -> StoredMessage | None:
        found = await self.find(
            mailbox_id, MessageQuery(), limit=1, after_uid=uid - 1, before_uid=uid + 1, with_text=with_text
        )
        return found[0] if found else None

    async def raw(self, mailbox_id: str, uid: int) -> bytes | None:
        query = (
            select(message_raw.c.raw)
            .join(messages, messages.c.raw_id == message_raw.c.id)
            .where(*_inbox(mailbox_id), messages.c.uid == uid)
        )
        value = (await self._connection.execute(query)).scalar()
        return None if value is None else bytes(value)

    async def set_flags(
        self, mailbox_id: str, uid: int, add: set[str], remove: set[str]
    ) -> StoredMessage | None:
        edit = message_changes.add_and_remove(frozenset(add), frozenset(remove))
        await self._change(
            mailbox_id,
            lambda c, inbox_id: message_changes.store_flags(c, mailbox_id, inbox_id, [uid], edit)[1],
        )
        return await self.get(mailbox_id, uid, with_text=False)

    async def delete(self, mailbox_id: str, uid: int) -> bool:
        deleted: list[int] = []

        def work(connection: Connection, inbox_id: int) -> FolderWrite | None:
            expunged, write = message_changes.expunge(
                connection, mailbox_id, inbox_id, [uid], only_deleted=False
            )
            deleted.extend(expunged)
            return write

        await self._change(mailbox_id, work)
        return bool(deleted)

    async def _change(self, mailbox_id: str, work: Callable[[Connection, int], FolderWrite | None]) -> None:
        """Run one change to the INBOX's messages on the blocking connection, as IMAP's are run, and
        record that the folder changed."""

        def in_inbox(connection: Connection) -> FolderWrite | None:
            inbox_id = connection.execute(_inbox_id(mailbox_id)).scalar()
            return None if inbox_id is None else work(connection, inbox_id)

        write = await self._connection.run_sync(in_inbox)
        if write is not None:
            self._record(FolderChanged(mailbox_id, write.folder_id, write.modseq))


def _inbox_id(mailbox_id: str) -> Select[int]:
    return select(folders.c.id).where(folders.c.mailbox_id == mailbox_id, folders.c.name == INBOX)


def _inbox(mailbox_id: str) -> list[ColumnElement[bool]]:
    return [
        messages.c.mailbox_id == mailbox_id,
        messages.c.folder_id == _inbox_id(mailbox_id).scalar_subquery(),
    ]


def _matching(query: MessageQuery) -> list[ColumnElement[bool]]:
    """`q`'s terms as SQL: those IMAP SEARCH shares through the shared criteria's compiler, the API's own
    here (see docs/architecture.md, "One meaning for the searches", for why they stay apart)."""
    conditions: list[ColumnElement[bool]] = []
    for sender in query.senders:
        conditions.append(
            func.lower(
                func.coalesce(messages.c.from_address, "") + " " + func.coalesce(messages.c.from_name, "")
            ).contains(sender, autoescape=True)
        )
    conditions += [
        func.lower(messages.c.to_json + messages.c.cc_json).contains(r, autoescape=True)
        for r in query.recipients
    ]
    conditions += [
        func.lower(func.coalesce(messages.c.subject, "")).contains(s, autoescape=True) for s in query.subjects
    ]
    for word in query.words:
        in_subject = func.lower(func.coalesce(messages.c.subject, "")).contains(word, autoescape=True)
        conditions.append(in_subject | func.lower(messages.c.text).contains(word, autoescape=True))
    if query.has_attachment is not None:
        conditions.append(messages.c.has_attachments.is_(query.has_attachment))
    shared = query.shared_criteria
    if not isinstance(shared, Everything):
        conditions.append(search_criteria_sql.condition(shared))
    if query.tag is not None:
        conditions.append(messages.c.tags.contains(json.dumps(query.tag), autoescape=True))
    if query.verified:
        conditions.append(messages.c.verified_domain.is_not(None))
    conditions += [_verified_within(domain) for domain in query.verified_domains]
    return conditions


def _verified_within(domain: str) -> ColumnElement[bool]:
    """The authenticated From domain is `domain` or one of its subdomains (stored lowercased)."""
    verified = messages.c.verified_domain
    return (verified == domain) | verified.endswith("." + domain, autoescape=True)


def _message(row: Any) -> StoredMessage:
    return StoredMessage(
        uid=row["uid"],
        flags=frozenset(row["flags"].split()),
        internal_date=row["internal_date"],
        size=row["size"],
        subject=row["subject"],
        from_address=row["from_address"],
        from_name=row["from_name"],
        to=tuple((name, address) for name, address in json.loads(row["to_json"])),
        cc=tuple((name, address) for name, address in json.loads(row["cc_json"])),
        date=row["date_header"],
        message_id=row["message_id"],
        has_attachments=bool(row["has_attachments"]),
        tags=tuple(json.loads(row["tags"])),
        codes=tuple(ExtractedCode(**code) for code in json.loads(row["codes_json"])),
        links=tuple(ExtractedLink(**link) for link in json.loads(row["links_json"])),
        parts_json=row["parts_json"],
        text=row.get("text"),
        envelope_from=row["envelope_from"],
        auth=SenderAuth.from_json(row["auth_json"]) if row["auth_json"] else None,
    )
