"""Mail access for IMAP and POP3: login with the derived mail password, then one session per connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mailservice.domain.errors import (
    AuthenticationFailed,
    DomainError,
    FolderNotAllowed,
    may_have_committed,
)
from mailservice.domain.mail_session import (
    HIERARCHY_SEPARATOR,
    Appended,
    AppendedAll,
    Copied,
    FlagChange,
    FlagsStored,
    FolderStatus,
    MessageMeta,
    NewMessage,
    OpenedFolder,
)
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.messages import (
    INBOX,
    RECENT,
    Delivery,
    FolderChanged,
    MessageCopy,
    MessageReceived,
    Resync,
)
from mailservice.domain.quota import Quota
from mailservice.ports import (
    Clock,
    EventBus,
    MailboxFolders,
    MailFolders,
    MessageParser,
    MessageStore,
    UnitOfWorkFactory,
)
from mailservice.services.credentials import Credentials
from mailservice.services.live_sessions import LiveSessions, SessionLease
from mailservice.services.login_throttle import LoginThrottle
from mailservice.services.mailboxes import MailboxService

MAX_FOLDER_NAME = 255


@dataclass(frozen=True)
class MailAccessPolicy:
    mail_domain: str
    local_domains: frozenset[str]


class MailAccess:
    """The `MailLogin` of the IMAP and POP3 servers."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        mailboxes: MailboxService,
        credentials: Credentials,
        folders: MailFolders,
        store: MessageStore,
        parser: MessageParser,
        events: EventBus,
        live_sessions: LiveSessions,
        clock: Clock,
        policy: MailAccessPolicy,
        throttle: LoginThrottle,
    ) -> None:
        self._uow = uow
        self._mailboxes = mailboxes
        self._credentials = credentials
        self._folders = folders
        self._store = store
        self._parser = parser
        self._events = events
        self._live_sessions = live_sessions
        self._clock = clock
        self._policy = policy
        self._throttle = throttle

    async def login(self, username: str, password: str, peer: str) -> StoreMailSession:
        login = self._login_of(username)
        attempt = self._throttle.reserve(peer, login)
        try:
            mailbox = await self._check(login, password)
        except BaseException:
            self._throttle.refund(attempt)  # not a wrong password: nothing was learned
            raise
        if mailbox is None:
            raise AuthenticationFailed("invalid username or password")
        self._throttle.refund(attempt)
        if not mailbox.is_usable(self._clock.now()):
            raise AuthenticationFailed("the mailbox is not active: it is unpaid or expired")
        return StoreMailSession(
            mailbox,
            self._policy,
            self._folders.of_mailbox(mailbox.id),
            self._store,
            self._parser,
            self,
            self._live_sessions.lease(mailbox),
        )

    def _login_of(self, username: str) -> str:
        local, at, domain = username.strip().lower().rpartition("@")
        if not at:
            return domain
        return local if domain in self._policy.local_domains else username.strip().lower()

    async def _check(self, login: str, password: str) -> Mailbox | None:
        async with self._uow(read_only=True) as uow:
            found = await uow.mailboxes.get_by_login(login)
        if found is None:
            return None
        mailbox = await self._mailboxes.current(found.id)
        if mailbox is None or not self._credentials.check_mail_password(mailbox, password):
            return None
        return mailbox

    def now(self) -> datetime:
        return self._clock.now()

    def subscribe(self, mailbox_id: str) -> EventWatch:
        return EventWatch(self._events, mailbox_id)


class EventWatch:
    """A `FolderWatch` over the event bus: yields the id of each folder that changed, or None after a
    resync (events were missed, so any folder may have)."""

    def __init__(self, events: EventBus, mailbox_id: str) -> None:
        self._subscription = events.subscribe(mailbox_id)

    async def __aiter__(self) -> AsyncIterator[int | None]:
        async for event in self._subscription:
            if isinstance(event, Resync):
                yield None
            elif isinstance(event, MessageReceived | FolderChanged):
                yield event.folder_id

    def close(self) -> None:
        self._subscription.close()


class StoreMailSession:
    """A `MailSession` over the message store, for one logged-in mailbox: folder names are checked here
    and `\\Recent` is never stored; what needs neither is the store's own."""

    def __init__(
        self,
        mailbox: Mailbox,
        policy: MailAccessPolicy,
        folders: MailboxFolders,
        store: MessageStore,
        parser: MessageParser,
        access: MailAccess,
        lease: SessionLease,
    ) -> None:
        self._mailbox = mailbox
        self._id = mailbox.id
        self._policy = policy
        self._folders = folders
        self._store = store
        self._parser = parser
        self._access = access
        self._lease = lease
        self.list_folders = folders.list_folders
        self.subscriptions = folders.subscriptions
        self.changes = folders.changes
        self.claim_recent = folders.claim_recent
        self.structures = folders.structures
        self.raw = folders.raw
        self.headers = folders.headers
        self.common_fields = folders.common_fields
        self.sort_keys = folders.sort_keys
        self.expunge = folders.expunge
        self.quota = folders.quota
        self.begin_command = folders.begin_command

    @property
    def address(self) -> str:
        return self._mailbox.address(self._policy.mail_domain)

    @property
    def mailbox_id(self) -> str:
        return self._id

    async def create_folder(self, name: str) -> None:
        await self._folders.create_folder(folder_name(name))

    async def delete_folder(self, name: str) -> None:
        await self._folders.delete_folder(folder_name(name))

    async def rename_folder(self, old: str, new: str) -> None:
        await self._folders.rename_folder(folder_name(old), folder_name(new))

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        await self._folders.set_subscribed(folder_name(name), subscribed)

    async def status(self, name: str) -> FolderStatus:
        return await self._folders.status(folder_name(name))

    async def quota_for_append(self, name: str) -> Quota:
        return await self._folders.quota_for_append(folder_name(name))

    async def open(self, name: str) -> OpenedFolder:
        return await self._folders.open(folder_name(name))

    async def store_flags(
        self,
        folder_id: int,
        uids: Sequence[int],
        change: FlagChange,
        flags: frozenset[str],
        unchanged_since: int | None = None,
        changes_since: int | None = None,
        uidvalidity: int | None = None,
        known: Mapping[int, MessageMeta] | None = None,
    ) -> FlagsStored:
        return await self._folders.store_flags(
            folder_id, uids, change, flags - {RECENT}, unchanged_since, changes_since, uidvalidity, known
        )

    async def append(
        self, folder: str, raw: bytes, flags: frozenset[str], internal_date: datetime | None
    ) -> Appended:
        appended = await self.append_all(folder, [NewMessage(raw, flags, internal_date)])
        return Appended(appended.uidvalidity, appended.uids[0])

    async def append_all(self, folder: str, messages: Sequence[NewMessage]) -> AppendedAll:
        """One delivery: the store commits all the copies or none, into a folder that exists."""
        name = folder_name(folder)
        copies = [
            MessageCopy(
                mailbox_id=self._id,
                raw=message.raw,
                parsed=await self._parser.parse(message.raw),
                internal_date=message.internal_date or self._access.now(),
                flags=tuple(sorted(message.flags - {RECENT})),
                folder=name,
            )
            for message in messages
        ]
        try:
            stored = await self._store.store(Delivery(tuple(copies), into_existing_folders=True))
        except BaseException as error:
            if may_have_committed(error):
                self._folders.unsure()
            raise
        self._folders.stored(list(zip(copies, stored, strict=True)))
        return AppendedAll(stored[0].uidvalidity, tuple(copy.uid for copy in stored))

    async def copy(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        return await self._folders.copy(folder_id, uids, folder_name(target))

    async def move(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        return await self._folders.move(folder_id, uids, folder_name(target))

    def watch(self) -> EventWatch:
        return self._access.subscribe(self._id)

    def revoked(self) -> asyncio.Future[DomainError]:
        return self._lease.ended

    def end(self) -> None:
        self._lease.release()


def folder_name(name: str) -> str:
    """The stored spelling of a folder name: INBOX (any case) as "INBOX"; refuse names that cannot exist."""
    if not name or len(name) > MAX_FOLDER_NAME:
        raise FolderNotAllowed("a folder name must have 1 to 255 characters")
    if any(ch in name for ch in "\x00\r\n") or any(ord(ch) < 0x20 for ch in name):
        raise FolderNotAllowed("a folder name cannot hold control characters")
    pieces = name.split(HIERARCHY_SEPARATOR)
    if any(piece == "" for piece in pieces):
        raise FolderNotAllowed(f"{name!r} is not a valid folder name")
    if pieces[0].upper() == INBOX:
        pieces[0] = INBOX
    return HIERARCHY_SEPARATOR.join(pieces)
