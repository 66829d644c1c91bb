"""Folders and messages as IMAP sees them: listing, status, changes since a modseq, flags, copy, move, expunge.

Reads run whole through `Database.run_read`, each in one snapshot. Writes run as one blocking transaction
through `Database.run_write`; changes to messages go through `message_changes.py`, as the HTTP API's do,
which keeps the lock order, modseqs, `expunged_messages` and the quota. After the commit, a
`folder.changed` event for each changed folder goes through the one publisher, from a queue that the
command does not wait on (the session reads its own changes from the store; on PostgreSQL a publish is a
round trip that every writer would wait in).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import (
    BigInteger,
    Boolean,
    bindparam,
    column,
    delete,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from mailservice.adapters.db import message_changes
from mailservice.adapters.db.claims_under_way import ClaimsUnderWay
from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import is_sqlite
from mailservice.adapters.db.folder_logs import FolderKey, FolderLogs, KnownWrite
from mailservice.adapters.db.folder_reads import (
    CHANGES,
    CHANGES_AND_DELETED,
    CHANGES_AND_DELETED_OF_UIDS,
    CHANGES_AND_TARGETS,
    KEPT_OPEN,
    WITH_RECENT_MARK,
    TargetRow,
    changes_asked,
    changes_of_rows,
    flag_set,
    folder_status,
    kept_open_asked,
    open_folder,
    open_kept,
    stored_utc,
    targets_of_rows,
)
from mailservice.adapters.db.folder_snapshots import FolderSnapshots
from mailservice.adapters.db.folders import new_folder, remember_deleted_uidvalidity
from mailservice.adapters.db.message_changes import (
    FlagEdit,
    give_back_quota,
    lock_folder_by_name,
    record_expunged,
    remove_messages,
    uid_conditions,
)
from mailservice.adapters.db.prepared import Prepared
from mailservice.adapters.db.raw_reads import HEADER_BLOCK, common_fields, prepare_common_fields, raw_contents
from mailservice.adapters.db.shared_change_reads import SharedChangeReads
from mailservice.adapters.db.sort_keys import stored_sort_keys
from mailservice.adapters.db.tables import (
    MAY_BE_DELETED,
    expunged_messages,
    folders,
    mailboxes,
    messages,
    recent_marks,
    subscriptions,
)
from mailservice.adapters.events.publish_queue import PublishQueue
from mailservice.domain.errors import FolderExists, FolderNotAllowed, FolderNotFound, may_have_committed
from mailservice.domain.mail_session import (
    ALL_STRUCTURE_ITEMS,
    HIERARCHY_SEPARATOR,
    CommonFields,
    Copied,
    FlagChange,
    FlagsStored,
    FolderChanges,
    FolderInfo,
    FolderStatus,
    FolderWrite,
    MessageMeta,
    MessageStructure,
    OpenedFolder,
    StructureItem,
)
from mailservice.domain.messages import (
    INBOX,
    RECENT,
    FolderChanged,
    MailboxEvent,
    MessageCopy,
    SortKeys,
    StoredCopy,
)
from mailservice.domain.quota import Quota
from mailservice.keyed_locks import KeyedLocks
from mailservice.ports import Clock, EventBus, EventPublisher

T = TypeVar("T")
log = logging.getLogger(__name__)

_TEXT_COLUMNS = (messages.c.envelope, messages.c.body, messages.c.bodystructure, messages.c.parts_json)
_STRUCTURE_COLUMNS = (
    (StructureItem.ENVELOPE, messages.c.envelope),
    (StructureItem.BODY, messages.c.body),
    (StructureItem.BODYSTRUCTURE, messages.c.bodystructure),
    (StructureItem.SECTIONS, messages.c.bodystructure),
    (StructureItem.SECTIONS, messages.c.parts_json),
)


RAW_DELETES_AT_ONCE = 2
"""Deletes of raw messages after EXPUNGEs (`_RawDeletes`) in the database at a time per node: each holds
a connection of the pool that STORE's and EXPUNGE's statements need; the others wait their turn."""
RAW_DELETES_QUEUED = 256
"""Deletes of raw messages after EXPUNGEs started and not ended, per node, past which an EXPUNGE waits for
its own before it is answered: where the database falls behind, the deletes slow the EXPUNGEs down
instead of piling up without end."""
COPIES_WAITING_PER_MAILBOX = 4
"""PostgreSQL: COPYs and MOVEs of one mailbox per node in the database at a time (the others wait in the
process), so that one mailbox's copies cannot take every connection of a pool the node's other writes
need (COPY's, shared with APPENDs; MOVE's, shared with the units of work)."""


class _RawDeletes:
    """PostgreSQL: the deletes of the raw messages that EXPUNGEs left unshared, made after the EXPUNGE is
    answered. Its messages are gone, and told, by then; what follows frees space only, and a crash
    before it leaves raw messages that no message reads, as a crash between the two statements did when
    the answer waited for both. A delete that fails is logged, not told to the client: nothing of its
    mail is lost."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._running: set[asyncio.Task[None]] = set()
        self._at_once = asyncio.Semaphore(RAW_DELETES_AT_ONCE)

    async def start(self, asked: list[dict[str, Any]]) -> None:
        """Start the deletes `asked`; return at once, unless more than `RAW_DELETES_QUEUED` are under
        way: then once these have ended (a failure is logged all the same)."""
        if not asked:
            return
        deleting = asyncio.get_running_loop().create_task(self._delete(asked))
        self._running.add(deleting)
        deleting.add_done_callback(self._ended)
        if len(self._running) > RAW_DELETES_QUEUED:
            await asyncio.wait([deleting])

    async def _delete(self, asked: list[dict[str, Any]]) -> None:
        async with self._at_once:
            for unshared in asked:
                await self._database.write_statement(message_changes.DELETE_UNSHARED_RAWS, unshared)

    def _ended(self, deleting: asyncio.Task[None]) -> None:
        self._running.discard(deleting)
        if not deleting.cancelled() and (error := deleting.exception()) is not None:
            log.error("imap.raw_delete_failed", exc_info=error)

    async def settle(self) -> None:
        """Return once every delete started before has ended (at shutdown, before the pools close)."""
        await asyncio.gather(*list(self._running), return_exceptions=True)


@dataclass(frozen=True)
class _Node:
    """What every session of the node shares."""

    database: Database
    default_quota: int
    announcements: PublishQueue
    clock: Clock
    snapshots: FolderSnapshots
    copying_mailboxes: KeyedLocks
    change_reads: SharedChangeReads | None
    """PostgreSQL: the changes reads, shared by the sessions of a folder; on SQLite a read takes tens of
    microseconds on the event loop, and there is nothing to share."""
    claims: ClaimsUnderWay
    raw_deletes: _RawDeletes
    logs: FolderLogs | None
    """PostgreSQL with the node's event bus: what the node knows of its folders' changes, which answers
    most `changes` calls without a read."""


class _SnapshotsDroppedOnResync:
    """PostgreSQL: the node's folder snapshots go when it may have missed events. Its listener was away,
    and the database may have restarted meanwhile, losing the last writes that did not wait for the
    WAL's flush (expunges among them), whose modseqs it would then give again: a snapshot that saw such
    a write could not be told it never happened."""

    def __init__(self, snapshots: FolderSnapshots) -> None:
        self._snapshots = snapshots

    def heard(self, event: MailboxEvent) -> None:
        pass

    def missed(self) -> None:
        self._snapshots.clear()


class SqlMailFolders:
    def __init__(
        self,
        database: Database,
        default_quota_bytes: int,
        publisher: EventPublisher,
        clock: Clock,
        snapshots: FolderSnapshots | None = None,
        events: EventBus | None = None,
    ) -> None:
        """`events`: the node's event bus, which tells it of changes made elsewhere. Without it every
        `changes` call reads."""
        change_reads = logs = None
        kept = snapshots if snapshots is not None else FolderSnapshots()
        if not is_sqlite(database.url):
            if events is not None:
                logs = FolderLogs(events.listening)
                events.watch(logs)
                events.watch(_SnapshotsDroppedOnResync(kept))
            change_reads = SharedChangeReads(lambda asked: database.read_statement(CHANGES, asked), logs)
        self._node = _Node(
            database,
            default_quota_bytes,
            PublishQueue(publisher),
            clock,
            kept,
            KeyedLocks(COPIES_WAITING_PER_MAILBOX),
            change_reads,
            ClaimsUnderWay(),
            _RawDeletes(database),
            logs,
        )
        prepare_common_fields(database.engine.dialect)  # not in a process's first header sync

    def of_mailbox(self, mailbox_id: str) -> SqlMailboxFolders:
        return SqlMailboxFolders(self._node, mailbox_id)

    async def settle(self) -> None:
        """Return once the writes made after an answer have ended (`_RawDeletes`): at shutdown, before
        the pools close."""
        await self._node.raw_deletes.settle()


class SqlMailboxFolders:
    """One mailbox's folders and messages."""

    def __init__(self, node: _Node, mailbox_id: str) -> None:
        self._node = node
        self._database = node.database
        self._clock = node.clock
        self._snapshots = node.snapshots
        self._id = mailbox_id
        # On SQLite a write to the selected folder also reads the changes that the session will ask for
        # after it, in the same transaction: the session is spared a hand-off to a reader thread and
        # back. Not on PostgreSQL, where the read would be a round trip more under the folder's lock.
        self._reads_changes_in_writes = is_sqlite(node.database.url)
        # On PostgreSQL the IMAP writes of one statement (a claim; STORE's and EXPUNGE's statements, each
        # committed alone) go through the driver's pools (`Database.write_statement`), not SQLAlchemy's.
        self._writes_in_statements = not is_sqlite(node.database.url)
        self._last_asked: dict[int, int] = {}
        """Per folder, the modseq the session last asked for changes since (or last opened at): the
        next ask is since that or since what it was then told, never since less."""
        self._read_ahead: _ReadAhead | None = None
        """Changes known from a write, for a `changes` call of the same command alone (`begin_command`
        and `open` drop it)."""
        self._polls = False
        """The command under way is a poll (`begin_command`): its `changes` calls read."""

    # Reads

    async def list_folders(self) -> list[FolderInfo]:
        return await self._database.run_read(lambda c: _list_folders(c, self._id))

    async def subscriptions(self) -> frozenset[str]:
        """Every subscribed name, of a folder or not; INBOX always."""
        return await self._database.run_read(lambda c: _subscriptions(c, self._id))

    async def status(self, name: str) -> FolderStatus:
        kept = await self._open_kept(name)
        if kept is not None:
            return kept.status
        return await self._database.run_read(lambda c: folder_status(c, self._id, name, self._snapshots))

    def begin_command(self, polls: bool = False) -> None:
        self._read_ahead = None
        self._polls = polls

    async def open(self, name: str) -> OpenedFolder:
        """A folder the process keeps a snapshot of is opened with one statement (`open_kept`, STATUS
        too); any other, or one that statement cannot vouch for, in a read transaction (`open_folder`)."""
        self._read_ahead = None
        opened = await self._open_kept(name)
        if opened is None:
            opened = await self._database.run_read(lambda c: open_folder(c, self._id, name, self._snapshots))
        self._last_asked[opened.status.folder_id] = opened.status.highestmodseq
        self._heard(opened.status.folder_id, opened.status.highestmodseq)
        return opened

    async def _open_kept(self, name: str) -> OpenedFolder | None:
        kept = self._snapshots.find_named(self._id, name)
        if kept is None:
            return None
        asked = kept_open_asked(self._id, name, kept)
        rows = await self._database.read_statement(KEPT_OPEN, asked)
        opened = open_kept(rows, name, kept, self._snapshots)
        if opened is None:
            self._snapshots.forget_name(self._id, name)
        return opened

    async def changes(self, folder_id: int, since_modseq: int) -> FolderChanges:
        """Asked after every IMAP command, in one read: mostly answered by the folder row alone, since
        every change to a folder (new message, flags, expunge) raises its HIGHESTMODSEQ. After this
        session's own write, the changes that write read as it committed (a snapshot as exact as a read
        then; what others did after it is told after the next command)."""
        read_ahead, self._read_ahead = self._read_ahead, None
        last_asked = self._last_asked.get(folder_id)
        self._last_asked[folder_id] = since_modseq
        known = read_ahead.changes(folder_id, since_modseq) if read_ahead is not None else None
        if known is not None:
            return known
        logs = self._node.logs
        if logs is not None and not self._polls:
            known = logs.changes(self._key(folder_id), since_modseq)
            if known is not None:
                return known
        shared = self._node.change_reads
        if shared is not None and last_asked is not None and since_modseq >= last_asked:
            return await shared.changes(self._id, folder_id, since_modseq)
        asked = changes_asked(self._id, folder_id, since_modseq)
        read = changes_of_rows(await self._database.read_statement(CHANGES, asked))
        self._heard(folder_id, read.highestmodseq)
        return read

    async def claim_recent(self, folder_id: int, up_to_uid: int, last_read: int | None = None) -> int:
        mark = await self._node.claims.claim(
            self._id, folder_id, up_to_uid, lambda: self._claim_recent(folder_id, up_to_uid, last_read)
        )
        if self._node.logs is not None:
            self._node.logs.claimed(self._key(folder_id), max(mark, up_to_uid))
        return mark

    async def _claim_recent(self, folder_id: int, up_to_uid: int, last_read: int | None) -> int:
        if self._writes_in_statements:
            asked = {"mailbox_id": self._id, "folder_id": folder_id, "up_to_uid": up_to_uid}
            claimed = await _claim_in_one_statement(self._database, asked)
            if claimed is not None:
                return claimed
        return await self._database.run_write(
            lambda c: _claim_recent(c, self._id, folder_id, up_to_uid, last_read), durable=False
        )

    async def structures(
        self,
        folder_id: int,
        uids: Sequence[int],
        items: frozenset[StructureItem] = ALL_STRUCTURE_ITEMS,
    ) -> list[MessageStructure]:
        found = await self._database.run_read(lambda c: _structures(c, self._id, folder_id, uids, items))
        return [found[uid] for uid in uids if uid in found]

    async def raw(self, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        return await self._database.run_read(lambda c: raw_contents(c, self._id, folder_id, uids))

    async def headers(self, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        return await self._database.run_read(
            lambda c: raw_contents(c, self._id, folder_id, uids, HEADER_BLOCK)
        )

    async def common_fields(self, folder_id: int, uids: Sequence[int]) -> CommonFields:
        # One statement (two for messages stored without their fields: a message expunged between
        # them is left out, as one expunged before), so no transaction around it: on PostgreSQL that
        # saves the BEGIN and ROLLBACK round trips.
        return await self._database.run_read(
            lambda c: common_fields(c, self._id, folder_id, uids), snapshot=False
        )

    async def sort_keys(self, folder_id: int, uids: Sequence[int]) -> dict[int, SortKeys]:
        return await self._database.run_read(lambda c: stored_sort_keys(c, self._id, folder_id, uids))

    async def quota(self) -> Quota:
        """Bytes only: asked before APPEND's data, where counting the messages would cost a scan."""
        return self._quota_of(await self._database.read_statement(_MAILBOX_QUOTA, {"mailbox_id": self._id}))

    async def quota_for_append(self, name: str) -> Quota:
        asked = {"mailbox_id": self._id, "name": name}
        rows = await self._database.read_statement(_MAILBOX_QUOTA_AND_FOLDER, asked)
        if rows and not rows[0].folder_found:
            raise FolderNotFound(f"no folder named {name}")
        return self._quota_of(rows)

    def _quota_of(self, rows: Sequence[Any]) -> Quota:
        if not rows:
            raise FolderNotFound("the mailbox no longer exists")
        return Quota.of_mailbox(rows[0].quota_bytes, rows[0].used_bytes, self._node.default_quota)

    # Writes

    async def create_folder(self, name: str) -> None:
        now = self._clock.now()
        await self._database.run_write(lambda c: _create(c, self._id, name, now))

    async def delete_folder(self, name: str) -> None:
        """Told as a change of the folder, so that its sessions, on every node, find it gone."""
        with self._unsure_if_it_fails():
            write = await self._database.run_write(lambda c: _delete_folder(c, self._id, name))
        if self._node.logs is not None:
            self._node.logs.forget(self._key(write.folder_id))
        self._changed([write])

    async def rename_folder(self, old: str, new: str) -> None:
        now = self._clock.now()
        with self._unsure_if_it_fails():  # renaming INBOX moves its messages out
            write = await self._database.run_write(lambda c: _rename(c, self._id, old, new, now))
        self._changed([write])

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        """Subscriptions are names that outlive their folders: only an existing folder can be subscribed,
        but deleting it keeps the subscription (RFC 3501 section 6.3.6), as in Dovecot."""
        if name == INBOX:
            return
        mailbox_id = self._id

        def work(connection: Connection) -> None:
            if subscribed and name not in _names(connection, mailbox_id):
                raise FolderNotFound(f"no folder named {name}")
            entry = (subscriptions.c.mailbox_id == mailbox_id) & (subscriptions.c.name == name)
            present = connection.execute(select(subscriptions.c.name).where(entry)).first() is not None
            if subscribed and not present:
                connection.execute(subscriptions.insert().values(mailbox_id=mailbox_id, name=name))
            elif not subscribed and present:
                connection.execute(delete(subscriptions).where(entry))

        await self._database.run_write(work)

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
        edit = message_changes.flag_change(change, flags)
        if self._writes_in_statements:  # tells each of its writes as it commits
            return await self._store_flags_in_statements(
                folder_id, uids, edit, unchanged_since, changes_since, uidvalidity, known
            )
        else:
            before = None
            if changes_since is not None:
                before = (await self.changes(folder_id, changes_since)).of_uidvalidity(uidvalidity)
            stored, write = await self._write_reading_changes(
                folder_id,
                lambda c: message_changes.store_flags(c, self._id, folder_id, uids, edit, unchanged_since),
                durable=False,
            )
            stored = replace(stored, before=before)
        self._changed([write])
        return stored

    async def _store_flags_in_statements(
        self,
        folder_id: int,
        uids: Sequence[int],
        edit: FlagEdit,
        unchanged_since: int | None,
        changes_since: int | None,
        uidvalidity: int | None,
        known: Mapping[int, MessageMeta] | None,
    ) -> FlagsStored:
        """PostgreSQL: `message_changes.store_flags`, its statements (each committed alone, as there)
        through the driver's pool: SQLAlchemy's async layers cost more than the statements. The
        changes since `changes_since` are read by the statement of the first round's messages (one round
        trip, one snapshot), or known without a read (`_known_targets`)."""
        edits = message_changes.FlagEdits(folder_id, edit, unchanged_since)
        rows = message_changes.STORE_ROWS
        before: FolderChanges | None = None
        pending: Sequence[int] = uids
        targets: Sequence[Any] | None = None
        statement = message_changes.WRITE_FLAGS_IN_ONE_STATEMENT
        if changes_since is not None:
            kept = self._known_targets(folder_id, uids, edits, changes_since, known)
            if kept is not None:
                before, targets = kept
                statement = message_changes.WRITE_FLAGS_BY_UID
            else:
                asked = rows.array_asked(pending, **changes_asked(self._id, folder_id, changes_since))
                found = await self._database.read_statement(CHANGES_AND_TARGETS, asked)
                before, targets = changes_of_rows(found), targets_of_rows(found)
                self._heard(folder_id, before.highestmodseq)
            self._last_asked[folder_id] = changes_since
            before = before.of_uidvalidity(uidvalidity)
        rounds = 0
        told: FolderWrite | None = None
        try:
            while pending:
                rounds += 1
                if targets is None:
                    asked = rows.array_asked(pending, folder_id=folder_id)
                    targets = await self._database.read_statement(rows.in_array, asked)
                    statement = message_changes.WRITE_FLAGS_IN_ONE_STATEMENT
                    # What was read may be newer than anything heard: the updates after it read too.
                    self._heard(folder_id, max((row.modseq for row in targets), default=0))
                changed, targets = edits.of(targets), None
                if not changed:
                    break
                parameters = message_changes.write_flags_parameters(self._id, folder_id, changed)
                with self._unsure_if_it_fails():
                    found = await self._database.write_statement(statement, parameters)
                modseq, written = message_changes.flags_written(found)
                pending = edits.written(changed, modseq, written)
                if written and pending:  # another round follows: this one is told now
                    told = FolderWrite(folder_id, modseq)
                    self._changed([told])
        finally:
            stored, write = edits.stored()
            if write is not None and rounds == 1:  # every message it changed took the write's modseq
                self._wrote(KnownWrite(write.modseq, changed=stored.updated), folder_id)
            if write != told:
                self._changed([write])
        if before is not None and changes_since is not None and rounds <= 1:  # its messages read once
            after = _after_own_flags(before, stored.updated, write)
            if after is not None:
                self._read_ahead = _ReadAhead(folder_id, changes_since, deduced=after)
        return replace(stored, before=before)

    def _known_targets(
        self,
        folder_id: int,
        uids: Sequence[int],
        edits: message_changes.FlagEdits,
        changes_since: int,
        known: Mapping[int, MessageMeta] | None,
    ) -> tuple[FolderChanges, list[TargetRow]] | None:
        """A STORE's messages and the folder's changes since `changes_since` without a read: what the
        node keeps of the folder says what changed since then, and the caller's `known` the rest. Only
        when each is known and the edit changes each: its write then changes a message only at the
        modseq it was known at (a message changed meanwhile, unheard, is read and edited again), while
        one that the edit would leave as it is may have changed unheard, and is read. Not with
        UNCHANGEDSINCE, whose refusals must be of messages that exist."""
        logs = self._node.logs
        if logs is None or known is None or edits.checks_modseqs:
            return None
        before = logs.changes(self._key(folder_id), changes_since)
        if before is None:
            return None
        since = {meta.uid: meta for meta in before.changed}
        gone = set(before.expunged)
        targets = []
        for uid in dict.fromkeys(uids):  # once each, as a read gives them
            meta = since.get(uid) or known.get(uid)
            if uid in gone:
                continue
            if meta is None:
                return None
            flags = " ".join(sorted(meta.flags - {RECENT}))
            targets.append(TargetRow(uid, uid, meta.modseq, flags, meta.internal_date, meta.size))
        if len(edits.of(targets)) != len(targets):
            return None
        return before, targets

    async def copy(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        return await self._copy(folder_id, uids, target, move=False)

    async def move(self, folder_id: int, uids: Sequence[int], target: str) -> Copied:
        return await self._copy(folder_id, uids, target, move=True)

    async def expunge(
        self, folder_id: int, uids: Sequence[int] | None = None, changes_since: int | None = None
    ) -> list[int]:
        """A folder with nothing flagged \\Deleted is answered from one read, without a write that locks
        the mailbox (about half of the EXPUNGEs of a busy folder have nothing to remove). On PostgreSQL
        that read is the one of the messages to expunge (`_expunge_in_statements`), which also reads the
        changes since `changes_since` (the session's HIGHESTMODSEQ), as a STORE does."""
        if self._writes_in_statements:  # tells its write as it commits
            return await self._expunge_in_statements(folder_id, uids, changes_since)
        parameters = {"mailbox_id": self._id, "folder_id": folder_id}
        if uids is None and not await self._database.read_statement(_ANY_DELETED, parameters):
            return []
        expunged, write = await self._write_reading_changes(
            folder_id, lambda c: message_changes.expunge(c, self._id, folder_id, uids), durable=False
        )
        self._changed([write])
        return expunged

    async def _expunge_in_statements(
        self, folder_id: int, uids: Sequence[int] | None, changes_since: int | None
    ) -> list[int]:
        """PostgreSQL: `message_changes.expunge`, its statements (each committed alone, as there) through
        the driver's pools. With `changes_since`, the read of the messages to expunge reads the changes
        too, and when nothing came between it and the write, the changes the session asks after the
        command are known without a read (`_after_own_expunge`)."""
        if changes_since is not None and self._knows_changes(folder_id, changes_since):
            self._last_asked[folder_id] = changes_since
            return await self._expunge_flagged(folder_id, uids)
        before: FolderChanges | None = None
        if changes_since is not None:
            asked = changes_asked(self._id, folder_id, changes_since)
            if uids is None:
                found = await self._database.read_statement(CHANGES_AND_DELETED, asked)
            else:
                asked = message_changes.DELETED_OF_UIDS.array_asked(uids, **asked)
                found = await self._database.read_statement(CHANGES_AND_DELETED_OF_UIDS, asked)
            self._last_asked[folder_id] = changes_since
            before = changes_of_rows(found)
            self._heard(folder_id, before.highestmodseq)
            candidates: Sequence[Any] = targets_of_rows(found)
        else:
            some = message_changes.DELETED_OF_UIDS
            if uids is None:
                statement, asked = message_changes.DELETED_IN_FOLDER, {"folder_id": folder_id}
            else:
                statement, asked = some.in_array, some.array_asked(uids, folder_id=folder_id)
            candidates = await self._database.read_statement(statement, asked)
        doomed = message_changes.doomed_of(candidates, only_deleted=True)
        expunged: list[int] = []
        write = None
        if doomed:
            parameters = message_changes.expunge_parameters(self._id, folder_id, doomed, only_deleted=True)
            with self._unsure_if_it_fails():
                statement = message_changes.EXPUNGE_IN_ONE_STATEMENT
                found = await self._database.write_statement(statement, parameters)
            expunged, write = await self._expunge_written(found, folder_id)
        if before is not None and changes_since is not None:
            after = _after_own_expunge(before, doomed, expunged, write)
            if after is not None:
                self._read_ahead = _ReadAhead(folder_id, changes_since, deduced=after)
        return expunged

    def _knows_changes(self, folder_id: int, since_modseq: int) -> bool:
        """PostgreSQL: whether what the node keeps of the folder answers for its changes since
        `since_modseq` (so the updates after a command need no read)."""
        logs = self._node.logs
        return logs is not None and logs.answers(self._key(folder_id), since_modseq)

    async def _expunge_flagged(self, folder_id: int, uids: Sequence[int] | None) -> list[int]:
        """PostgreSQL, for a session whose folder's changes the node knows: the messages to remove found,
        and removed, by one statement (`EXPUNGE_FLAGGED_IN_ONE_STATEMENT`), where a read of them with the
        changes would come first; the updates after the command are the node's, this write applied."""
        parameters = {
            "folder_id": folder_id,
            "mailbox_id": self._id,
            "uids": None if uids is None else sorted(set(uids)),
        }
        with self._unsure_if_it_fails():
            statement = message_changes.EXPUNGE_FLAGGED_IN_ONE_STATEMENT
            found = await self._database.write_statement(statement, parameters)
        expunged, write = await self._expunge_written(found, folder_id)
        if write is None:  # nothing written; the folder as the statement found it may be newer than known
            self._heard(folder_id, int(found[0].highestmodseq))
        return expunged

    async def _expunge_written(
        self, found: Sequence[Any], folder_id: int
    ) -> tuple[list[int], FolderWrite | None]:
        """What an EXPUNGE's one statement gave (`message_changes.expunged_in_one_statement`), its write
        told to the node, with the flags each message went with, and the raw messages left unshared
        deleted after the answer (before it while too many deletes are under way, `RAW_DELETES_QUEUED`)."""
        expunged, write = message_changes.expunged_in_one_statement(found, folder_id)
        if write is None:
            return expunged, None
        gone = message_changes.flags_expunged_in_one_statement(found)
        self._wrote(
            KnownWrite(write.modseq, expunged=tuple((uid, flag_set(f)) for uid, f in gone)), folder_id
        )
        self._changed([write])
        await self._node.raw_deletes.start(message_changes.unshared_raws_asked(found))
        return expunged, write

    async def _copy(self, folder_id: int, uids: Sequence[int], target: str, move: bool) -> Copied:
        with self._unsure_if_it_fails():
            async with self._copies_waiting_bounded():
                copied, writes = await self._write_reading_changes(
                    folder_id,
                    lambda c: message_changes.copy_messages(
                        c, self._id, folder_id, uids, target, move, self._node.default_quota
                    ),
                    statements_commit_alone=not move,  # one statement (`message_changes.copy_messages`)
                )
        if copied.copies:  # one write, the target's: every copy took its modseq
            (written,) = writes
            uidnext = copied.target_uids[-1] + 1
            self._wrote(KnownWrite(written.modseq, changed=copied.copies, uidnext=uidnext), written.folder_id)
        self._changed(writes)
        return copied

    @asynccontextmanager
    async def _copies_waiting_bounded(self) -> AsyncIterator[None]:
        """PostgreSQL: at most `COPIES_WAITING_PER_MAILBOX` COPYs or MOVEs of a mailbox per node are in
        the database at a time: each waiting there for a folder's row holds a connection of a pool the
        node's other writes need too (COPY's, shared with APPENDs, which are bounded too, one statement per
        folder; MOVE's, shared with the units of work). They
        would wait for each other there anyway: each counts its bytes against the mailbox's row."""
        if not self._writes_in_statements:
            yield
            return
        async with self._node.copying_mailboxes.hold(self._id):
            yield

    async def _write_reading_changes(
        self,
        folder_id: int,
        work: Callable[[Connection], T],
        durable: bool = True,
        statements_commit_alone: bool = False,
    ) -> T:
        """`run_write(work)`; on SQLite the transaction then reads the folder's changes since what this
        session last asked, kept for its next `changes` call once the write is committed."""
        self._read_ahead = None
        since = self._last_asked.get(folder_id)
        if not self._reads_changes_in_writes or since is None:
            return await self._database.run_write(work, durable, statements_commit_alone)
        asked = changes_asked(self._id, folder_id, since)

        def work_then_read(connection: Connection) -> tuple[T, list[Any]]:
            return work(connection), CHANGES.rows(connection, asked)

        done, rows = await self._database.run_write(work_then_read, durable, statements_commit_alone)
        self._read_ahead = _ReadAhead(folder_id, since, rows=rows)
        return done

    def stored(self, copies: Sequence[tuple[MessageCopy, StoredCopy]]) -> None:
        for message, copy in copies:
            flags, internal_date = frozenset(message.flags), stored_utc(message.internal_date)
            meta = MessageMeta(copy.uid, copy.modseq, flags, internal_date, copy.size)
            self._wrote(KnownWrite(copy.modseq, changed=(meta,), uidnext=copy.uid + 1), copy.folder_id)

    def _changed(self, writes: Sequence[FolderWrite | None]) -> None:
        """Told as soon as the writes commit: one left untold would leave the node's folder logs (and
        the other nodes') vouching for a folder that has changed."""
        for write in writes:
            if write is not None:
                self._heard(write.folder_id, write.modseq)
        self._node.announcements.put(
            [FolderChanged(self._id, w.folder_id, w.modseq) for w in writes if w is not None]
        )

    def unsure(self) -> None:
        """A write of this mailbox failed where it may have committed, untold: nothing the node keeps of
        the mailbox's folders can be vouched for."""
        if self._node.logs is not None:
            self._node.logs.forget_mailbox(self._id)

    @contextmanager
    def _unsure_if_it_fails(self) -> Iterator[None]:
        try:
            yield
        except BaseException as error:
            if may_have_committed(error):
                self.unsure()
            raise

    def _wrote(self, write: KnownWrite, folder_id: int) -> None:
        if self._node.logs is not None:
            self._node.logs.wrote(self._key(folder_id), write)

    def _heard(self, folder_id: int, modseq: int) -> None:
        if self._node.logs is not None:
            self._node.logs.raised(self._key(folder_id), modseq)

    def _key(self, folder_id: int) -> FolderKey:
        return (self._id, folder_id)


@dataclass(frozen=True)
class _ReadAhead:
    """A folder's changes since `since`, known from this session's own write: on SQLite the rows of
    `CHANGES` read in the write's transaction (good for any later `since`); on PostgreSQL deduced from
    a STORE or an EXPUNGE (`_after_own_flags`, `_after_own_expunge`), good for that `since` alone."""

    folder_id: int
    since: int
    rows: Sequence[Any] | None = None
    deduced: FolderChanges | None = None

    def changes(self, folder_id: int, since_modseq: int) -> FolderChanges | None:
        if folder_id != self.folder_id:
            return None
        if self.rows is not None and self.since <= since_modseq:
            return changes_of_rows(self.rows, since_modseq)
        if self.deduced is not None and self.since == since_modseq:
            return self.deduced
        return None


def _after_own_flags(
    before: FolderChanges, updated: Sequence[MessageMeta], write: FolderWrite | None
) -> FolderChanges | None:
    """The changes a read after a STORE would find, from the changes read with its messages (`before`)
    and what it wrote; None when another writer may have changed the folder in between. Every change
    to a folder raises its HIGHESTMODSEQ by one, so a write that took the modseq right after the one
    read saw nothing come between (a STORE that wrote nothing leaves the read as it was)."""
    if write is None:
        return before if not updated else None
    if write.modseq != before.highestmodseq + 1:
        return None
    mine = {meta.uid for meta in updated}
    changed = sorted(
        (*(meta for meta in before.changed if meta.uid not in mine), *updated), key=lambda m: m.uid
    )
    return replace(before, highestmodseq=write.modseq, changed=tuple(changed))


def _after_own_expunge(
    before: FolderChanges, doomed: Sequence[Any], expunged: Sequence[int], write: FolderWrite | None
) -> FolderChanges | None:
    """The changes a read after an EXPUNGE would find, from those read with its messages (`before`) and
    what it removed; None when another writer may have changed the folder in between (as
    `_after_own_flags`). Nothing came between, so each message went with the flags it was read with.
    One that found messages to remove and removed none was beaten to them: its read is out of date."""
    if write is None:  # and nothing removed: it had nothing to remove, or another writer came first
        return before if not doomed else None
    if write.modseq != before.highestmodseq + 1:
        return None
    gone = set(expunged)
    flags_read = {row.uid: flag_set(row.flags) for row in doomed}
    return replace(
        before,
        highestmodseq=write.modseq,
        changed=tuple(meta for meta in before.changed if meta.uid not in gone),
        expunged=tuple(sorted({*before.expunged, *gone})),
        last_flags=tuple(sorted((*before.last_flags, *((uid, flags_read[uid]) for uid in sorted(gone))))),
    )


# Reading helpers


def _list_folders(connection: Connection, mailbox_id: str) -> list[FolderInfo]:
    query = (
        select(folders.c.name, folders.c.special_use)
        .where(folders.c.mailbox_id == mailbox_id)
        .order_by(folders.c.name)
    )
    rows = connection.execute(query).all()
    subscribed = _subscriptions(connection, mailbox_id)
    return [FolderInfo(row.name, row.special_use, row.name in subscribed) for row in rows]


def _subscriptions(connection: Connection, mailbox_id: str) -> frozenset[str]:
    query = select(subscriptions.c.name).where(subscriptions.c.mailbox_id == mailbox_id)
    return frozenset((INBOX, *connection.execute(query).scalars().all()))


_RECENT_MARK = Prepared(
    select(folders.c.id, recent_marks.c.recent_uid)
    .select_from(WITH_RECENT_MARK)
    .where(folders.c.mailbox_id == bindparam("mailbox_id"), folders.c.id == bindparam("folder_id"))
)
_RAISE_MARK = (
    update(recent_marks)
    .where(recent_marks.c.folder_id == bindparam("folder_id"), recent_marks.c.recent_uid == bindparam("mark"))
    .values(recent_uid=bindparam("up_to_uid"))
)
_RAISE_RECENT_MARK = Prepared(_RAISE_MARK)

_RAISE_OWN_RECENT_MARK = Prepared(
    _RAISE_MARK.where(
        select(folders.c.id)
        .where(folders.c.id == bindparam("folder_id"), folders.c.mailbox_id == bindparam("mailbox_id"))
        .exists()
    )
)
"""`_RAISE_RECENT_MARK` of a folder of the session's mailbox, when the mark was not read just before."""
_FIRST_RECENT_MARK = {
    name: Prepared(
        dialect.insert(recent_marks)
        .values(folder_id=bindparam("folder_id"), recent_uid=bindparam("up_to_uid"))
        .on_conflict_do_nothing()
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
"""A folder's first claim; one made meanwhile by another session wins, and this one reads it."""
_CLAIM_IN_ONE_STATEMENT = Prepared(
    text(
        """
        WITH folder AS (
            SELECT id FROM folders WHERE id = :folder_id AND mailbox_id = :mailbox_id
        ), mark AS (
            SELECT recent_uid FROM recent_marks
            WHERE folder_id = :folder_id AND EXISTS (SELECT FROM folder)
            FOR NO KEY UPDATE
        ), raised AS (
            UPDATE recent_marks SET recent_uid = :up_to_uid
            WHERE folder_id = :folder_id AND recent_uid < :up_to_uid AND EXISTS (SELECT FROM mark)
        ), first AS (
            INSERT INTO recent_marks (folder_id, recent_uid)
            SELECT id, :up_to_uid FROM folder WHERE NOT EXISTS (SELECT FROM mark)
            ON CONFLICT (folder_id) DO NOTHING
            RETURNING recent_uid
        )
        SELECT
            EXISTS (SELECT FROM folder) AS found,
            (SELECT recent_uid FROM mark) AS mark,
            EXISTS (SELECT FROM first) AS first
        """
    )
    .bindparams(bindparam("folder_id", type_=BigInteger), bindparam("up_to_uid", type_=BigInteger))
    .columns(column("found", Boolean), column("mark", BigInteger), column("first", Boolean))
)
"""A claim on PostgreSQL, whatever the mark: the mark's row is locked and read as it is after any wait,
then raised to `up_to_uid` where below it (the mark read says what was taken), or made by the folder's
first claim. No compare and set that can miss, so no second round trip. Only a first claim that another
made meanwhile is left to the compare-and-set loop."""
_ANY_DELETED = Prepared(
    select(messages.c.id)
    .where(
        messages.c.mailbox_id == bindparam("mailbox_id"),
        messages.c.folder_id == bindparam("folder_id"),
        MAY_BE_DELETED,
    )
    .limit(1)
)
"""Whether a folder may hold a message flagged \\Deleted (the expunge then checks each one's flags)."""
_MAILBOX_QUOTA = Prepared(
    select(mailboxes.c.quota_bytes, mailboxes.c.used_bytes).where(mailboxes.c.id == bindparam("mailbox_id"))
)
_MAILBOX_QUOTA_AND_FOLDER = Prepared(
    select(
        mailboxes.c.quota_bytes,
        mailboxes.c.used_bytes,
        select(folders.c.id)
        .where(folders.c.mailbox_id == mailboxes.c.id, folders.c.name == bindparam("name"))
        .exists()
        .label("folder_found"),
    ).where(mailboxes.c.id == bindparam("mailbox_id"))
)


def _claim_recent(
    connection: Connection, mailbox_id: str, folder_id: int, up_to_uid: int, last_read: int | None
) -> int:
    """Two sessions (on any nodes) never take the same message as recent: compare and set, from the mark
    `last_read` first, then (it moved, or the folder has none yet) from the mark read. (On PostgreSQL a
    claim is one statement that locks the mark, `_claim_in_one_statement`; this is for a first claim
    that another made meanwhile.)"""
    folder = {"mailbox_id": mailbox_id, "folder_id": folder_id}
    if last_read is not None and last_read < up_to_uid:
        asked = {**folder, "mark": last_read, "up_to_uid": up_to_uid}
        if _RAISE_OWN_RECENT_MARK.run(connection, asked) == 1:
            return last_read
    while True:
        found = _RECENT_MARK.first(connection, folder)
        if found is None:
            raise FolderNotFound("the selected folder no longer exists")
        mark = 0 if found.recent_uid is None else int(found.recent_uid)
        if mark >= up_to_uid:
            return mark
        raised = {"folder_id": folder_id, "mark": mark, "up_to_uid": up_to_uid}
        if found.recent_uid is not None:
            claimed = _RAISE_RECENT_MARK.run(connection, raised)
        else:
            claimed = _first_claim(connection, raised)
        if claimed == 1:
            return mark


async def _claim_in_one_statement(database: Database, asked: dict[str, Any]) -> int | None:
    """The mark before the claim; None when another session's first claim came between. Through the
    driver's pool (`Database.write_statement`): SQLAlchemy's async layers cost more than the statement."""
    with _folder_gone_if_its_key_fails(asyncpg.IntegrityConstraintViolationError):
        [claim] = await database.write_statement(_CLAIM_IN_ONE_STATEMENT, asked)  # no FROM: one row
    if not claim.found:
        raise FolderNotFound("the selected folder no longer exists")
    if claim.mark is not None:
        return int(claim.mark)
    return 0 if claim.first else None


def _first_claim(connection: Connection, raised: dict[str, int]) -> int:
    with _folder_gone_if_its_key_fails(connection.dialect.loaded_dbapi.IntegrityError):
        return _FIRST_RECENT_MARK[connection.dialect.name].run(connection, raised)


@contextmanager
def _folder_gone_if_its_key_fails(integrity_error: type[Exception]) -> Iterator[None]:
    """A mark's insert fails its only key, its folder's, when the folder was deleted meanwhile. The
    statements run on the driver itself: `integrity_error` is its own exception, not SQLAlchemy's."""
    try:
        yield
    except integrity_error:
        raise FolderNotFound("the selected folder no longer exists") from None


def _structures(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int],
    items: frozenset[StructureItem],
) -> dict[int, MessageStructure]:
    """Only the columns `items` need are read: an ENVELOPE fetch of a whole folder reads little else."""
    wanted = {column.name for item, column in _STRUCTURE_COLUMNS if item in items}
    columns = (
        messages.c.uid,
        messages.c.header_end,
        *(column if column.name in wanted else literal("").label(column.name) for column in _TEXT_COLUMNS),
    )
    found: dict[int, MessageStructure] = {}
    for condition in uid_conditions(uids):
        query = select(*columns).where(
            messages.c.mailbox_id == mailbox_id, messages.c.folder_id == folder_id, condition
        )
        for uid, header_end, envelope, body, bodystructure, parts_json in connection.execute(query).all():
            found[uid] = MessageStructure(
                uid=uid,
                envelope=envelope,
                body=body,
                bodystructure=bodystructure,
                header_end=header_end,
                content_type=_top_content_type(bodystructure),
                parts_json=parts_json,
            )
    return found


def _top_content_type(bodystructure: str) -> str:
    """Only "multipart or not" matters to section lookup, and a multipart's BODYSTRUCTURE opens with "(("."""
    if bodystructure.startswith("(("):
        return "multipart/mixed"
    return "text/plain"


# Writing helpers (blocking, inside one transaction)


def _create(connection: Connection, mailbox_id: str, name: str, now: datetime) -> None:
    existing = _names(connection, mailbox_id)
    if name in existing:
        raise FolderExists(f"a folder named {name} already exists")
    pieces = name.split(HIERARCHY_SEPARATOR)
    for depth in range(1, len(pieces) + 1):
        path = HIERARCHY_SEPARATOR.join(pieces[:depth])
        if path not in existing:
            connection.execute(new_folder(mailbox_id, path, now))
            existing.add(path)


def _delete_folder(connection: Connection, mailbox_id: str, name: str) -> FolderWrite:
    if name == INBOX:
        raise FolderNotAllowed("INBOX cannot be deleted")
    folder = lock_folder_by_name(connection, mailbox_id, name)
    rows = connection.execute(
        select(messages.c.id, messages.c.raw_id, messages.c.size).where(messages.c.folder_id == folder.id)
    ).all()
    freed = remove_messages(connection, rows)
    connection.execute(delete(expunged_messages).where(expunged_messages.c.folder_id == folder.id))
    connection.execute(delete(folders).where(folders.c.id == folder.id))
    # The mailbox row last (the lock order of message_changes).
    connection.execute(remember_deleted_uidvalidity(mailbox_id, folder.uidvalidity))
    give_back_quota(connection, mailbox_id, freed)
    return FolderWrite(folder.id, folder.highestmodseq + 1)


def _rename(connection: Connection, mailbox_id: str, old: str, new: str, now: datetime) -> FolderWrite | None:
    existing = _names(connection, mailbox_id)
    if old not in existing:
        raise FolderNotFound(f"no folder named {old}")
    if new in existing:
        raise FolderExists(f"a folder named {new} already exists")
    if new == old or new.startswith(old + HIERARCHY_SEPARATOR):
        raise FolderNotAllowed("a folder cannot be renamed into itself")
    if old == INBOX:
        return _rename_inbox(connection, mailbox_id, new, now)
    prefix = old + HIERARCHY_SEPARATOR
    for name in sorted(existing):
        if name == old or name.startswith(prefix):
            connection.execute(
                update(folders)
                .where(folders.c.mailbox_id == mailbox_id, folders.c.name == name)
                .values(name=new + name[len(old) :])
            )
    _create_parents(connection, mailbox_id, new, existing, now)
    return None


def _rename_inbox(connection: Connection, mailbox_id: str, new: str, now: datetime) -> FolderWrite:
    """RFC 3501: renaming INBOX moves its messages to the new folder and leaves INBOX empty."""
    inbox = lock_folder_by_name(connection, mailbox_id, INBOX)
    _create_parents(connection, mailbox_id, new, _names(connection, mailbox_id), now)
    connection.execute(new_folder(mailbox_id, new, now))
    target = lock_folder_by_name(connection, mailbox_id, new)
    moved = (
        connection.execute(
            select(messages.c.uid).where(messages.c.folder_id == inbox.id).order_by(messages.c.uid)
        )
        .scalars()
        .all()
    )
    connection.execute(
        update(folders)
        .where(folders.c.id == target.id)
        .values(uidnext=inbox.uidnext, highestmodseq=inbox.highestmodseq)
    )
    connection.execute(update(messages).where(messages.c.folder_id == inbox.id).values(folder_id=target.id))
    modseq = inbox.highestmodseq + 1
    record_expunged(connection, inbox.id, list(moved), modseq)
    connection.execute(update(folders).where(folders.c.id == inbox.id).values(highestmodseq=modseq))
    return FolderWrite(inbox.id, modseq)


def _create_parents(
    connection: Connection, mailbox_id: str, name: str, existing: set[str], now: datetime
) -> None:
    pieces = name.split(HIERARCHY_SEPARATOR)
    for depth in range(1, len(pieces)):
        path = HIERARCHY_SEPARATOR.join(pieces[:depth])
        if path not in existing:
            connection.execute(new_folder(mailbox_id, path, now))
            existing.add(path)


def _names(connection: Connection, mailbox_id: str) -> set[str]:
    return set(connection.execute(select(folders.c.name).where(folders.c.mailbox_id == mailbox_id)).scalars())
