"""What a mail-access protocol (IMAP, POP3) needs from the store, for one logged-in mailbox.

The protocol engines keep their own view of a selected folder (sequence numbers, what the client has
been told) and call a `MailSession` for everything stored. Folder names are full hierarchical names
with "/" as the separator; "INBOX" is case-insensitive and always exists. Flags are IMAP flags as
the client spells them (system flags with their backslash, keywords as atoms); `\\Recent` is never
stored: each folder keeps a mark instead, the highest uid a session has taken as recent
(`MailSession.claim_recent`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import NamedTuple, Protocol

from mailservice.domain.errors import DomainError, FolderNotFound
from mailservice.domain.messages import SortKeys, keywords_in

# Part of this interface (`MailSession.quota`), so importable from here as well.
from mailservice.domain.quota import Quota as Quota

HIERARCHY_SEPARATOR = "/"


class StructureItem(Enum):
    """What a reader of `MessageStructure` needs (`header_end` always comes)."""

    ENVELOPE = "envelope"
    BODY = "body"
    BODYSTRUCTURE = "bodystructure"
    SECTIONS = "sections"
    """`content_type` and `parts_json`, to find MIME parts."""


ALL_STRUCTURE_ITEMS = frozenset(StructureItem)


class FlagChange(Enum):
    ADD = "+"
    REMOVE = "-"
    REPLACE = ""


@dataclass(frozen=True)
class FolderInfo:
    name: str
    special_use: str | None
    subscribed: bool


@dataclass(frozen=True)
class FolderStatus:
    folder_id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    messages: int
    unseen: int
    size: int
    recent_uid: int = 0
    """The folder's recent mark: messages above it are recent to the next session that takes them."""
    recent: int = 0
    """How many messages are above the recent mark."""
    deleted: int = 0
    """How many messages have \\Deleted (STATUS DELETED, RFC 9051)."""


class MessageMeta(NamedTuple):
    """What a selected folder keeps per message; enough for flag, date and size searches.

    Named tuples (here and `MessageStructure`): a folder holds thousands, and building a tuple costs a
    third of building a frozen dataclass.
    """

    uid: int
    modseq: int
    flags: frozenset[str]
    internal_date: datetime
    size: int


@dataclass(frozen=True)
class OpenedFolder:
    status: FolderStatus
    by_uid: dict[int, MessageMeta]
    """The messages by uid, in ascending order. Shared with other sessions (a snapshot the process
    keeps): copy it, never change it."""
    keywords: frozenset[str]
    """Every keyword the messages have."""

    @classmethod
    def of(cls, status: FolderStatus, messages: Iterable[MessageMeta]) -> OpenedFolder:
        """From `messages` ascending by uid."""
        by_uid = {meta.uid: meta for meta in messages}
        return cls(status, by_uid, keywords_in({meta.flags for meta in by_uid.values()}))

    @property
    def messages(self) -> tuple[MessageMeta, ...]:
        """The messages, ascending by uid."""
        return tuple(self.by_uid.values())

    @property
    def newest_uid(self) -> int:
        """The highest uid, 0 when the folder is empty."""
        return next(reversed(self.by_uid), 0)


@dataclass(frozen=True)
class FolderChanges:
    """Everything that happened in a folder after a modseq: new and re-flagged messages, expunged uids.
    `uidvalidity` tells a session whether the folder is still the one it selected."""

    highestmodseq: int
    uidnext: int
    changed: tuple[MessageMeta, ...]
    expunged: tuple[int, ...]
    uidvalidity: int
    recent_uid: int = 0
    last_flags: tuple[tuple[int, frozenset[str]], ...] = ()
    """(uid, flags) of expunged messages whose flags at their removal are known (EXPUNGE)."""

    def of_uidvalidity(self, uidvalidity: int | None) -> FolderChanges:
        """These changes, when they are of the folder known by `uidvalidity` (whatever it is, when None);
        else that folder is gone (`FolderNotFound`): deleted, and another made with its name (on SQLite
        perhaps with its id too)."""
        if uidvalidity is not None and self.uidvalidity != uidvalidity:
            raise FolderNotFound("the selected folder no longer exists")
        return self


class MessageStructure(NamedTuple):
    """The precomputed IMAP items of one message (computed once at delivery, never by parsing again).

    `envelope`, `body` and `bodystructure` are ready-to-send IMAP texts (encode with `imap_bytes`).
    `header_end` is the offset of the body in the raw bytes; `parts_json` holds every MIME part's
    offsets as `mime.PartInfo` fields; `content_type` is the top entity's type.
    A structure read for some `StructureItem`s only may leave the texts of the others empty.
    """

    uid: int
    envelope: str
    body: str
    bodystructure: str
    header_end: int
    content_type: str
    parts_json: str


class CommonFields(NamedTuple):
    """What a header sync of common fields reads (`MailFolderStore.common_fields`), by uid."""

    common: list[tuple[int, bytes, bytes]]
    """(uid, common header fields, their layout) of each message that has them, as
    `mime.common_fields` cut them at delivery."""
    headers: dict[int, bytes]
    """The whole header block of each message stored before they were kept."""


@dataclass(frozen=True)
class FlagsStored:
    updated: tuple[MessageMeta, ...]
    """Messages whose flags changed, with their new modseq."""
    modified: tuple[int, ...]
    """Uids refused because their modseq was above UNCHANGEDSINCE (CONDSTORE)."""
    before: FolderChanges | None = None
    """Asked with `changes_since`: the folder's changes after it, as read before the flags were
    written."""


@dataclass(frozen=True)
class Appended:
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class NewMessage:
    """A message a client appends (`internal_date` None: now)."""

    raw: bytes
    flags: frozenset[str] = frozenset()
    internal_date: datetime | None = None


@dataclass(frozen=True)
class AppendedAll:
    uidvalidity: int
    uids: tuple[int, ...]


@dataclass(frozen=True)
class Copied:
    uidvalidity: int
    source_uids: tuple[int, ...]
    target_uids: tuple[int, ...]
    copies: tuple[MessageMeta, ...] = field(default=(), compare=False)
    """The new messages as stored, when the store read them back (for what the node keeps of the target
    folder's changes); may be left empty."""


@dataclass(frozen=True)
class FolderWrite:
    """Which folder a write changed and its new HIGHESTMODSEQ, for the event that tells other sessions."""

    folder_id: int
    modseq: int


class FolderWatch(Protocol):
    """Wakes whenever anything changes in the mailbox (any folder, any node), until closed."""

    def __aiter__(self) -> AsyncIterator[int | None]:
        """Yields the id of the folder that changed, or None when any folder may have (events were
        missed while the event bus reconnected)."""
        ...

    def close(self) -> None: ...


class MailFolderStore(Protocol):
    """The stored folders and messages of one mailbox: what a `MailSession` asks of the store.
    Every method raises domain errors (`FolderNotFound`, `FolderExists`, `FolderNotAllowed`,
    `MailboxFull`), never storage exceptions."""

    async def list_folders(self) -> list[FolderInfo]: ...

    async def subscriptions(self) -> frozenset[str]:
        """Every subscribed name, of a folder or not (subscriptions outlive folders); INBOX always."""
        ...

    async def create_folder(self, name: str) -> None: ...

    async def delete_folder(self, name: str) -> None:
        """INBOX cannot be deleted; deleting a folder deletes its messages (and frees their quota)."""
        ...

    async def rename_folder(self, old: str, new: str) -> None:
        """Renames the folder and its children; renaming INBOX moves its messages to a new folder."""
        ...

    async def set_subscribed(self, name: str, subscribed: bool) -> None: ...

    async def status(self, name: str) -> FolderStatus: ...

    async def quota_for_append(self, name: str) -> Quota:
        """`quota()` for an APPEND into `name`, asked before its data: read with the folder's existence in
        one look (far cheaper than `status`); `FolderNotFound` when there is no folder of that name."""
        ...

    async def open(self, name: str) -> OpenedFolder: ...

    async def changes(self, folder_id: int, since_modseq: int) -> FolderChanges:
        """Read from one snapshot: a uid is never both changed and expunged in one answer."""
        ...

    async def claim_recent(self, folder_id: int, up_to_uid: int, last_read: int | None = None) -> int:
        """Raise the folder's recent mark to `up_to_uid`, atomically on any node, and return the mark
        it had: the messages above that, up to `up_to_uid`, are recent to the caller and to no other
        session (the first read-write session to see a message gets it as \\Recent). A store may
        instead return a mark at or above `up_to_uid` that another session's claim raised it to:
        nothing is recent to the caller then. `last_read`: the mark as the caller last read it (with
        the folder's changes), a hint for a store that claims by compare and set: tried first, it is
        most often still the mark."""
        ...

    async def structures(
        self,
        folder_id: int,
        uids: Sequence[int],
        items: frozenset[StructureItem] = ALL_STRUCTURE_ITEMS,
    ) -> list[MessageStructure]:
        """In the order of `uids`; uids that no longer exist are left out. Only `items` need be filled in."""
        ...

    async def raw(self, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]: ...

    async def headers(self, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        """Each message's header block (its bytes up to the body), read without the rest."""
        ...

    async def common_fields(self, folder_id: int, uids: Sequence[int]) -> CommonFields:
        """Each existing message's common header fields, kept apart at delivery, or its header block
        when it has none kept; uids that no longer exist are left out."""
        ...

    async def sort_keys(self, folder_id: int, uids: Sequence[int]) -> dict[int, SortKeys]:
        """Each existing message's IMAP SORT keys by uid (stored at delivery)."""
        ...

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
        """`changes_since`: also read the folder's changes after that modseq, before the flags are
        written (`FlagsStored.before`), where the store can in the same statement as the messages'
        flags; then nothing is written, and `FolderNotFound` raised, when the folder is gone or (with
        `uidvalidity`) is not the one the caller knows. `known`: the messages as the caller knows them
        as of `changes_since` (its flags may carry \\Recent); a store that knows what changed since then
        may take them as they are without a read, when its write changes a message only at the modseq
        it was known at."""
        ...

    async def copy(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        """Counts against the quota (`MailboxFull`)."""
        ...

    async def move(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        """Copy, then expunge the sources in the same transaction; the quota is unchanged."""
        ...

    async def expunge(
        self, folder_id: int, uids: Sequence[int] | None = None, changes_since: int | None = None
    ) -> list[int]:
        """Remove the messages flagged \\Deleted (only those among `uids` when given); their uids.
        `changes_since`: the session's HIGHESTMODSEQ, when it asks for the changes after the expunge
        (a store may read them with the messages it removes, as `store_flags` does)."""
        ...

    async def quota(self) -> Quota:
        """Bytes used and allowed (`messages` left None: asked before each APPEND, it never counts)."""
        ...

    def begin_command(self, polls: bool = False) -> None:
        """A new command begins: what a write read for an earlier one (its folder's changes, which the
        store may keep for the `changes` call that follows a write) answers nothing asked now.
        `polls`: the command asks for news (NOOP, CHECK, IDLE), so its `changes` calls must see every
        change committed before them; another command's may be answered with what the store has heard."""
        ...


class MailSession(MailFolderStore, Protocol):
    """One logged-in mailbox: its stored folders and messages, and what the login adds (its address,
    appending through delivery, watching for changes, the end of its access). Raises `InvalidInput`
    too, never storage exceptions."""

    @property
    def address(self) -> str: ...

    async def append(
        self, folder: str, raw: bytes, flags: frozenset[str], internal_date: datetime | None
    ) -> Appended:
        """Counts against the quota (`MailboxFull`); `FolderNotFound` means TRYCREATE."""
        ...

    async def append_all(self, folder: str, messages: Sequence[NewMessage]) -> AppendedAll:
        """Stores every message, in order, or none (MULTIAPPEND); errors as `append`."""
        ...

    def watch(self) -> FolderWatch: ...

    def revoked(self) -> asyncio.Future[DomainError]:
        """Completes when the session's access is revoked (credentials rotated, mailbox expired or
        revoked) with the error a new login would get; cancelled when the session ends. A future, not
        a coroutine: a connection watches it with a callback instead of a task of its own."""
        ...

    def end(self) -> None:
        """The connection is over: stop watching for revocation."""
        ...


class MailLogin(Protocol):
    async def login(self, username: str, password: str, peer: str) -> MailSession:
        """Username is the mailbox address or its bare login. Raises `AuthenticationFailed` (also for
        mailboxes that are not usable) or `RateLimited` after repeated failures from the peer."""
        ...
