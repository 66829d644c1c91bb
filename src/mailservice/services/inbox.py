"""Reading a mailbox over HTTP: authentication by access token, listing, reading, waiting for mail."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from mailservice.domain.errors import AuthenticationFailed, InvalidInput, NotFound
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.messages import FLAGGED, SEEN, StoredMessage
from mailservice.domain.search import MessageQuery
from mailservice.ports import EventBus, MessageReader, UnitOfWorkFactory
from mailservice.services.credentials import Credentials, mailbox_id_of_access_token
from mailservice.services.live_sessions import LiveSessions, next_signal
from mailservice.services.mailboxes import MailboxService

MAX_PAGE = 100
MAX_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Attachment:
    content: bytes
    content_type: str
    filename: str | None


@dataclass(frozen=True)
class SafeText:
    text: str
    links: list[str]
    truncated: bool


class InboxService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        events: EventBus,
        credentials: Credentials,
        mailboxes: MailboxService,
        reader: MessageReader,
        live_sessions: LiveSessions,
    ) -> None:
        self._uow = uow
        self._events = events
        self._credentials = credentials
        self._mailboxes = mailboxes
        self._reader = reader
        self._live_sessions = live_sessions

    async def authenticate(self, access_token: str) -> Mailbox:
        """The usable mailbox the token belongs to; 401 for a bad token, 409 when unpaid or expired."""
        mailbox_id = mailbox_id_of_access_token(access_token.strip())
        mailbox = await self._mailboxes.current(mailbox_id) if mailbox_id else None
        if mailbox is None or not self._credentials.check_access_token(mailbox, access_token.strip()):
            raise AuthenticationFailed("invalid access token")
        await self._mailboxes.require_usable(mailbox)
        return mailbox

    async def find(
        self,
        mailbox: Mailbox,
        query: MessageQuery,
        limit: int,
        after_uid: int | None = None,
        before_uid: int | None = None,
        with_text: bool = False,
    ) -> list[StoredMessage]:
        """Newest first; with `after_uid` oldest first, so a cursor never skips or repeats a message."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        async with self._uow(read_only=True) as uow:
            return await uow.messages.find(
                mailbox.id,
                query,
                limit=limit,
                after_uid=after_uid,
                before_uid=before_uid,
                newest_first=after_uid is None,
                with_text=with_text,
            )

    async def get(self, mailbox: Mailbox, uid: int, mark_seen: bool = False) -> StoredMessage:
        if mark_seen:
            await self.update(mailbox, uid, seen=True)
        async with self._uow(read_only=True) as uow:
            message = await uow.messages.get(mailbox.id, uid)
        if message is None:
            raise NotFound("message not found")
        return message

    async def mark_seen(self, mailbox: Mailbox, uids: list[int]) -> None:
        async with self._uow() as uow:
            for uid in uids:
                await uow.messages.set_flags(mailbox.id, uid, {SEEN}, set())
            await uow.commit()

    async def update(
        self, mailbox: Mailbox, uid: int, seen: bool | None = None, flagged: bool | None = None
    ) -> StoredMessage:
        add: set[str] = set()
        remove: set[str] = set()
        for flag, wanted in ((SEEN, seen), (FLAGGED, flagged)):
            if wanted is not None:
                (add if wanted else remove).add(flag)
        async with self._uow() as uow:
            message = await uow.messages.set_flags(mailbox.id, uid, add, remove)
            await uow.commit()
        if message is None:
            raise NotFound("message not found")
        return message

    async def delete(self, mailbox: Mailbox, uid: int) -> None:
        async with self._uow() as uow:
            deleted = await uow.messages.delete(mailbox.id, uid)
            await uow.commit()
        if not deleted:
            raise NotFound("message not found")

    async def raw(self, mailbox: Mailbox, uid: int) -> bytes:
        async with self._uow(read_only=True) as uow:
            raw = await uow.messages.raw(mailbox.id, uid)
        if raw is None:
            raise NotFound("message not found")
        return raw

    async def attachment(self, mailbox: Mailbox, uid: int, part: str) -> Attachment:
        message = await self.get(mailbox, uid)
        found = self._reader.attachment(await self.raw(mailbox, uid), message.parts_json, part)
        if found is None:
            raise NotFound("attachment not found")
        return Attachment(*found)

    async def safe_text(self, mailbox: Mailbox, uid: int, max_chars: int) -> SafeText:
        return SafeText(*self._reader.safe_text(await self.raw(mailbox, uid), max_chars))

    async def latest_uid(self, mailbox: Mailbox) -> int:
        newest = await self.find(mailbox, MessageQuery(), limit=1)
        return newest[0].uid if newest else 0

    async def wait(
        self,
        mailbox: Mailbox,
        after_uid: int | None,
        wait_seconds: float,
        query: MessageQuery,
        since: datetime | None = None,
    ) -> StoredMessage | None:
        """A message matching `query`, or None in time.

        With `after_uid`, the first one after it. Without, the newest unread one that already arrived
        (received at or after `since`, when given), else the first one to arrive: mail that came before
        the wait is never missed, and an older code never wins over a newer one. Raises the error a new
        request would get when the access is revoked while waiting."""
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise InvalidInput(f"timeout must be between 0 and {MAX_WAIT_SECONDS:g} seconds")
        subscription = self._events.subscribe(mailbox.id)
        lease = self._live_sessions.lease(mailbox)
        try:
            if since is not None:
                query = replace(query, after=since if query.after is None else max(query.after, since))
            start = after_uid if after_uid is not None else await self.latest_uid(mailbox)
            if after_uid is None:
                unread = replace(query, unread=True)
                arrived = await self.find(mailbox, unread, limit=1, with_text=True)
                if arrived:
                    return arrived[0]
            deadline = asyncio.get_running_loop().time() + wait_seconds
            while True:
                found = await self.find(mailbox, query, limit=1, after_uid=start, with_text=True)
                if found:
                    return found[0]
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return None
                if not await next_signal(subscription, lease, remaining):
                    if lease.ended.done():
                        raise lease.ended.result()
                    return None
        finally:
            subscription.close()
            lease.release()
