"""A complete in-memory `MailLogin` / `MailSession`: every mailbox's folders, messages, flags and
modseqs live in a `MemoryMailStore`, shared by all sessions of that mailbox, with watches woken on
every change. Used to test the IMAP and POP3 engines without a database."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from mailservice.adapters.message_parsing import parts_json
from mailservice.domain.errors import (
    AuthenticationFailed,
    DomainError,
    FolderExists,
    FolderNotAllowed,
    FolderNotFound,
    MailboxFull,
    RateLimited,
)
from mailservice.domain.mail_session import (
    ALL_STRUCTURE_ITEMS,
    HIERARCHY_SEPARATOR,
    Appended,
    AppendedAll,
    CommonFields,
    Copied,
    FlagChange,
    FlagsStored,
    FolderChanges,
    FolderInfo,
    FolderStatus,
    MailSession,
    MessageMeta,
    MessageStructure,
    NewMessage,
    OpenedFolder,
    Quota,
    StructureItem,
)
from mailservice.domain.messages import SortKeys
from mailservice.mime import parse_mime
from mailservice.mime.common_fields import common_fields
from mailservice.mime.sort_keys import sort_keys_of

INBOX = "INBOX"
_uidvalidities = itertools.count(1_700_000_000)


@dataclass
class StoredMessage:
    meta: MessageMeta
    raw: bytes
    structure: MessageStructure


@dataclass
class MemoryFolder:
    folder_id: int
    name: str
    special_use: str | None = None
    uidvalidity: int = field(default_factory=lambda: next(_uidvalidities))
    uidnext: int = 1
    highestmodseq: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    expunged: dict[int, int] = field(default_factory=dict)
    """uid -> the modseq at which it was expunged."""
    last_flags: dict[int, frozenset[str]] = field(default_factory=dict)
    """uid -> the flags it was expunged with."""
    recent_uid: int = 0

    def next_modseq(self) -> int:
        self.highestmodseq += 1
        return self.highestmodseq


def structure_of(uid: int, raw: bytes) -> MessageStructure:
    """What the SQL store keeps for IMAP: the same MIME parse, without the text extraction it does not need."""
    parsed = parse_mime(raw)
    return MessageStructure(
        uid=uid,
        envelope=parsed.envelope,
        body=parsed.body,
        bodystructure=parsed.bodystructure,
        header_end=parsed.header_end,
        content_type=parsed.content_type,
        parts_json=parts_json(parsed),
    )


class MemoryWatch:
    def __init__(self, store: MemoryMailStore) -> None:
        self._store = store
        self._queue: asyncio.Queue[int | None] = asyncio.Queue()
        store.watches.add(self)

    def notify(self, folder_id: int) -> None:
        self._queue.put_nowait(folder_id)

    def __aiter__(self) -> AsyncIterator[int]:
        return self._events()

    async def _events(self) -> AsyncIterator[int]:
        while True:
            folder_id = await self._queue.get()
            if folder_id is None:
                return
            yield folder_id

    def close(self) -> None:
        self._store.watches.discard(self)
        self._queue.put_nowait(None)


class MemoryMailStore:
    """One mailbox: its folders (INBOX and any `special` ones exist from the start) and quota."""

    def __init__(
        self,
        address: str,
        quota_bytes: int = 100_000_000,
        special: dict[str, str] | None = None,
    ) -> None:
        self.address = address
        self.quota_bytes = quota_bytes
        self._ids = itertools.count(1)
        self.folders: dict[str, MemoryFolder] = {}
        self.subscriptions: set[str] = {INBOX}  # names, which outlive their folders
        self.watches: set[MemoryWatch] = set()
        self._revoked: asyncio.Future[DomainError] | None = None
        self._add_folder(INBOX)
        for name, use in (special or {}).items():
            self._add_folder(name, use)
            self.subscriptions.add(name)  # created for the client, so subscribed for it

    def _add_folder(self, name: str, special_use: str | None = None) -> MemoryFolder:
        folder = MemoryFolder(next(self._ids), name, special_use)
        self.folders[name] = folder
        return folder

    def folder(self, name: str) -> MemoryFolder:
        found = self.folders.get(_canonical(name))
        if found is None:
            raise FolderNotFound(f"no folder {name}")
        return found

    def by_id(self, folder_id: int) -> MemoryFolder:
        for folder in self.folders.values():
            if folder.folder_id == folder_id:
                return folder
        raise FolderNotFound(f"no folder {folder_id}")

    def used_bytes(self) -> int:
        return sum(
            len(message.raw) for folder in self.folders.values() for message in folder.messages.values()
        )

    def revocation(self) -> asyncio.Future[DomainError]:
        if self._revoked is None:
            self._revoked = asyncio.get_running_loop().create_future()
        return self._revoked

    def revoke(self, reason: DomainError) -> None:
        """End every session of the mailbox, as a credential rotation or expiry does."""
        if not self.revocation().done():
            self.revocation().set_result(reason)

    def changed(self, folder: MemoryFolder) -> None:
        for watch in list(self.watches):
            watch.notify(folder.folder_id)

    def deliver(
        self,
        raw: bytes,
        folder_name: str = INBOX,
        flags: frozenset[str] = frozenset(),
        internal_date: datetime | None = None,
    ) -> int:
        """Add a message (as delivery would) and wake watchers; its uid."""
        folder = self.folder(folder_name)
        if self.used_bytes() + len(raw) > self.quota_bytes:
            raise MailboxFull("mailbox is full")
        uid = self._insert(folder, raw, flags, internal_date or datetime.now(UTC))
        self.changed(folder)
        return uid

    def mark_seen_by_a_session(self) -> None:
        """As if a session had selected every folder: no message stored so far is recent any more."""
        for folder in self.folders.values():
            folder.recent_uid = folder.uidnext - 1

    def _insert(
        self, folder: MemoryFolder, raw: bytes, flags: frozenset[str], internal_date: datetime
    ) -> int:
        uid = folder.uidnext
        folder.uidnext += 1
        meta = MessageMeta(
            uid, folder.next_modseq(), frozenset(flags) - {"\\Recent"}, internal_date, len(raw)
        )
        folder.messages[uid] = StoredMessage(meta, raw, structure_of(uid, raw))
        return uid


def _canonical(name: str) -> str:
    if name[:5].upper() == INBOX and name[5:6] in ("", HIERARCHY_SEPARATOR):
        return INBOX + name[5:]
    return name


class MemoryMailSession:
    def __init__(self, store: MemoryMailStore) -> None:
        self.store = store
        self.ended = False

    def revoked(self) -> asyncio.Future[DomainError]:
        """Completes on `MemoryMailStore.revoke`."""
        return self.store.revocation()

    def end(self) -> None:
        self.ended = True

    def begin_command(self, polls: bool = False) -> None:
        """Nothing is kept between commands here."""

    @property
    def address(self) -> str:
        return self.store.address

    async def list_folders(self) -> list[FolderInfo]:
        subscribed = self.store.subscriptions
        return [FolderInfo(f.name, f.special_use, f.name in subscribed) for f in self.store.folders.values()]

    async def subscriptions(self) -> frozenset[str]:
        return frozenset(self.store.subscriptions)

    async def create_folder(self, name: str) -> None:
        name = _canonical(name)
        if (
            not name
            or name.startswith(HIERARCHY_SEPARATOR)
            or f"{HIERARCHY_SEPARATOR}{HIERARCHY_SEPARATOR}" in name
        ):
            raise FolderNotAllowed(f"invalid folder name {name!r}")
        if name in self.store.folders:
            raise FolderExists(f"folder {name} exists")
        self.store._add_folder(name)

    async def delete_folder(self, name: str) -> None:
        folder = self.store.folder(name)
        if folder.name == INBOX:
            raise FolderNotAllowed("INBOX cannot be deleted")
        del self.store.folders[folder.name]
        self.store.changed(folder)

    async def rename_folder(self, old: str, new: str) -> None:
        source = self.store.folder(old)
        new = _canonical(new)
        if new in self.store.folders:
            raise FolderExists(f"folder {new} exists")
        if source.name == INBOX:
            target = self.store._add_folder(new)
            for uid in sorted(source.messages):
                message = source.messages.pop(uid)
                self.store._insert(target, message.raw, message.meta.flags, message.meta.internal_date)
                source.expunged[uid] = source.next_modseq()
            self.store.changed(source)
            return
        prefix = source.name + HIERARCHY_SEPARATOR
        for name in [name for name in self.store.folders if name == source.name or name.startswith(prefix)]:
            folder = self.store.folders.pop(name)
            folder.name = new + name[len(source.name) :]
            self.store.folders[folder.name] = folder

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        name = _canonical(name)
        if name == INBOX:
            return
        if subscribed:
            self.store.folder(name)  # only an existing folder can be subscribed
            self.store.subscriptions.add(name)
        else:
            self.store.subscriptions.discard(name)

    async def status(self, name: str) -> FolderStatus:
        return _status(self.store.folder(name))

    async def quota_for_append(self, name: str) -> Quota:
        self.store.folder(name)  # FolderNotFound when there is none
        return await self.quota()

    async def open(self, name: str) -> OpenedFolder:
        folder = self.store.folder(name)
        messages = (folder.messages[uid].meta for uid in sorted(folder.messages))
        return OpenedFolder.of(_status(folder), messages)

    async def changes(self, folder_id: int, since_modseq: int) -> FolderChanges:
        folder = self.store.by_id(folder_id)
        changed = tuple(
            message.meta
            for uid, message in sorted(folder.messages.items())
            if message.meta.modseq > since_modseq
        )
        expunged = tuple(uid for uid, modseq in sorted(folder.expunged.items()) if modseq > since_modseq)
        last_flags = tuple((uid, folder.last_flags[uid]) for uid in expunged if uid in folder.last_flags)
        return FolderChanges(
            folder.highestmodseq,
            folder.uidnext,
            changed,
            expunged,
            folder.uidvalidity,
            folder.recent_uid,
            last_flags,
        )

    async def claim_recent(self, folder_id: int, up_to_uid: int, last_read: int | None = None) -> int:
        folder = self.store.by_id(folder_id)
        mark = folder.recent_uid
        folder.recent_uid = max(mark, up_to_uid)
        return mark

    async def structures(
        self,
        folder_id: int,
        uids: Sequence[int],
        items: frozenset[StructureItem] = ALL_STRUCTURE_ITEMS,
    ) -> list[MessageStructure]:
        messages = self.store.by_id(folder_id).messages
        return [messages[uid].structure for uid in uids if uid in messages]

    async def raw(self, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        messages = self.store.by_id(folder_id).messages
        return {uid: messages[uid].raw for uid in uids if uid in messages}

    async def headers(self, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        messages = self.store.by_id(folder_id).messages
        return {
            uid: messages[uid].raw[: messages[uid].structure.header_end] for uid in uids if uid in messages
        }

    async def common_fields(self, folder_id: int, uids: Sequence[int]) -> CommonFields:
        headers = await self.headers(folder_id, uids)
        return CommonFields([(uid, *common_fields(header)) for uid, header in headers.items()], {})

    async def sort_keys(self, folder_id: int, uids: Sequence[int]) -> dict[int, SortKeys]:
        return {uid: sort_keys_of(header) for uid, header in (await self.headers(folder_id, uids)).items()}

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
        before = None
        if changes_since is not None:
            before = (await self.changes(folder_id, changes_since)).of_uidvalidity(uidvalidity)
        stored = await self._store_flags(folder_id, uids, change, flags, unchanged_since)
        return replace(stored, before=before)

    async def _store_flags(
        self,
        folder_id: int,
        uids: Sequence[int],
        change: FlagChange,
        flags: frozenset[str],
        unchanged_since: int | None,
    ) -> FlagsStored:
        folder = self.store.by_id(folder_id)
        flags = flags - {"\\Recent"}
        updated: list[MessageMeta] = []
        modified: list[int] = []
        modseq: int | None = None
        for uid in uids:
            message = folder.messages.get(uid)
            if message is None:
                continue
            if unchanged_since is not None and message.meta.modseq > unchanged_since:
                modified.append(uid)
                continue
            new_flags = _changed_flags(message.meta.flags, change, flags)
            if new_flags == message.meta.flags:
                continue
            modseq = modseq or folder.next_modseq()
            message.meta = message.meta._replace(flags=new_flags, modseq=modseq)
            updated.append(message.meta)
        if updated:
            self.store.changed(folder)
        return FlagsStored(tuple(updated), tuple(modified))

    async def append(
        self, folder: str, raw: bytes, flags: frozenset[str], internal_date: datetime | None
    ) -> Appended:
        appended = await self.append_all(folder, [NewMessage(raw, flags, internal_date)])
        return Appended(appended.uidvalidity, appended.uids[0])

    async def append_all(self, folder: str, messages: Sequence[NewMessage]) -> AppendedAll:
        target = self.store.folder(folder)
        if self.store.used_bytes() + sum(len(message.raw) for message in messages) > self.store.quota_bytes:
            raise MailboxFull("mailbox is full")
        uids = tuple(
            self.store._insert(target, m.raw, m.flags, m.internal_date or datetime.now(UTC)) for m in messages
        )
        self.store.changed(target)
        return AppendedAll(target.uidvalidity, uids)

    async def copy(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        return self._copy(folder_id, uids, target, move=False)

    def _copy(self, folder_id: int, uids: Sequence[int], target: str, move: bool) -> Copied:
        """A copy counts against the quota; a move, which frees as much as it adds, does not."""
        source = self.store.by_id(folder_id)
        destination = self.store.folder(target)
        chosen = [source.messages[uid] for uid in uids if uid in source.messages]
        added = sum(len(message.raw) for message in chosen)
        if not move and self.store.used_bytes() + added > self.store.quota_bytes:
            raise MailboxFull("mailbox is full")
        new_uids = tuple(
            self.store._insert(destination, m.raw, m.meta.flags, m.meta.internal_date) for m in chosen
        )
        if chosen:
            self.store.changed(destination)
        return Copied(destination.uidvalidity, tuple(m.meta.uid for m in chosen), new_uids)

    async def move(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        copied = self._copy(folder_id, uids, target, move=True)
        source = self.store.by_id(folder_id)
        self._remove(source, copied.source_uids)
        return copied

    def _remove(self, folder: MemoryFolder, uids: Sequence[int]) -> None:
        if not uids:
            return
        modseq = folder.next_modseq()
        for uid in uids:
            removed = folder.messages.pop(uid, None)
            folder.expunged[uid] = modseq
            if removed is not None:
                folder.last_flags[uid] = removed.meta.flags
        self.store.changed(folder)

    async def expunge(
        self, folder_id: int, uids: Sequence[int] | None = None, changes_since: int | None = None
    ) -> list[int]:
        folder = self.store.by_id(folder_id)
        candidates = sorted(folder.messages) if uids is None else sorted(set(uids) & folder.messages.keys())
        deleted = [uid for uid in candidates if "\\Deleted" in folder.messages[uid].meta.flags]
        self._remove(folder, deleted)
        return deleted

    async def quota(self) -> Quota:
        return Quota(self.store.used_bytes(), self.store.quota_bytes)

    def watch(self) -> MemoryWatch:
        return MemoryWatch(self.store)


def _status(folder: MemoryFolder) -> FolderStatus:
    messages = folder.messages.values()
    return FolderStatus(
        folder_id=folder.folder_id,
        name=folder.name,
        uidvalidity=folder.uidvalidity,
        uidnext=folder.uidnext,
        highestmodseq=folder.highestmodseq,
        messages=len(folder.messages),
        unseen=sum(1 for message in messages if "\\Seen" not in message.meta.flags),
        size=sum(message.meta.size for message in messages),
        recent_uid=folder.recent_uid,
        recent=sum(1 for uid in folder.messages if uid > folder.recent_uid),
        deleted=sum(1 for message in messages if "\\Deleted" in message.meta.flags),
    )


def _changed_flags(current: frozenset[str], change: FlagChange, flags: frozenset[str]) -> frozenset[str]:
    if change is FlagChange.ADD:
        return current | flags
    if change is FlagChange.REMOVE:
        return current - flags
    return flags


class MemoryMailLogin:
    """Logs in with `address` (or its local part) and `password`; `max_failures` failed attempts from
    one peer make further attempts RateLimited."""

    def __init__(self, max_failures: int = 5) -> None:
        self.stores: dict[str, tuple[MemoryMailStore, str]] = {}
        self.failures: dict[str, int] = {}
        self.max_failures = max_failures
        self.sessions: list[MemoryMailSession] = []

    def add_mailbox(
        self,
        address: str,
        password: str,
        quota_bytes: int = 100_000_000,
        special: dict[str, str] | None = None,
    ) -> MemoryMailStore:
        store = MemoryMailStore(address, quota_bytes, special)
        self.stores[address.lower()] = (store, password)
        self.stores[address.split("@")[0].lower()] = (store, password)
        return store

    async def login(self, username: str, password: str, peer: str) -> MailSession:
        if self.failures.get(peer, 0) >= self.max_failures:
            raise RateLimited("too many failed logins")
        found = self.stores.get(username.lower())
        if found is None or found[1] != password:
            self.failures[peer] = self.failures.get(peer, 0) + 1
            raise AuthenticationFailed("invalid credentials")
        self.sessions.append(MemoryMailSession(found[0]))
        return self.sessions[-1]
