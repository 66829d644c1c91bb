"""Every change to stored messages (flags and keywords, expunge and delete, copy and move), one way.

The IMAP and POP3 store (`mail_folders.py`, in a blocking transaction) and the HTTP API's repository
(`messages.py`, inside the async unit of work through `run_sync`) both call these functions on a
blocking `Connection` already in a write transaction, so the rules are kept here only:

- Locks are taken in one order by every writer, the delivery writer's too: folder rows by id, then
  the rows of their messages (a COPY takes its source messages `FOR SHARE`, after both folders), then
  the mailbox row, so no two writers can deadlock. The mailbox row (the quota, the order of the
  mailbox's events) is taken by a write's last statements, so a write waiting for one folder holds up
  no other folder of the mailbox. A writer that changes more than the folders it names first (room made
  in a full mailbox, the age sweep) locks every folder of the mailbox first (`lock_whole_mailboxes`).
  A folder's UIDs and modseqs are given under its row lock, held until commit. The rows are locked
  `FOR NO KEY UPDATE` (PostgreSQL): writers exclude each other as with `FOR UPDATE`, but the foreign
  key checks of other transactions' inserts (a message's folder and mailbox, a folder's \\Recent mark)
  do not wait for them.
- A flag change or an expunge reads its messages first, without a lock, and takes the folder's row only
  once it knows it changes something. On PostgreSQL it then writes in one statement that re-checks each
  row (still in the folder under the uid and at the modseq read, as a MOVE changes all three; still
  flagged \\Deleted), so with the writes that run outside a transaction there (`Database.run_write`,
  not `durable`) the folder's row is held for that one statement alone; a flag change re-reads and
  edits again the messages another writer changed meanwhile.
- Every change raises the folder's HIGHESTMODSEQ by one and gives the changed messages that modseq.
- New UIDs and modseqs are taken from a locked folder's `FolderCounters`, here and in the
  group-commit writer (`message_store.py`, delivery and APPEND), and written back with
  `ADVANCE_FOLDERS`.
- A message that goes leaves its uid and modseq in `expunged_messages` (how other sessions learn of it),
  with the flags it had (a session that still shows it fetches those); its raw bytes go when no other
  message shares them, and its size goes back to the mailbox's quota.

Each function returns the `FolderWrite`s it made; the caller publishes `folder.changed` for them after
its commit. The statements are built and compiled once and run through the driver (`prepared.py`):
building, keying and executing a statement through SQLAlchemy costs several times what the database
spends running it, and these run in the one writer that every IMAP session waits behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Executable,
    Text,
    any_,
    bindparam,
    column,
    delete,
    exists,
    insert,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import NoResultFound

from mailservice.adapters.db.folder_reads import flag_set, stored_utc
from mailservice.adapters.db.prepared import Prepared
from mailservice.adapters.db.tables import (
    MAY_BE_DELETED,
    expunged_messages,
    folders,
    mailboxes,
    message_raw,
    messages,
)
from mailservice.domain.errors import FolderNotFound, MailboxFull
from mailservice.domain.mail_session import Copied, FlagChange, FlagsStored, FolderWrite, MessageMeta
from mailservice.domain.messages import DELETED
from mailservice.domain.quota import Quota

CHUNK = 1000
META_COLUMNS = (
    messages.c.uid,
    messages.c.modseq,
    messages.c.flags,
    messages.c.internal_date,
    messages.c.size,
)

FlagEdit = Callable[[frozenset[str]], frozenset[str]]
"""A message's new flags from its current ones."""


@dataclass
class FolderCounters:
    """A folder's UIDNEXT and HIGHESTMODSEQ (and its UIDVALIDITY) as read under its row lock, which is
    held until the commit: the one place new UIDs and modseqs are given. UIDs are taken in order from
    UIDNEXT, never twice, so on any number of nodes a folder's UIDs become visible in UID order."""

    id: int
    uidnext: int
    highestmodseq: int
    uidvalidity: int

    @classmethod
    def of_row(cls, folder: Any) -> FolderCounters:
        return cls(folder.id, folder.uidnext, folder.highestmodseq, folder.uidvalidity)

    def take_uid(self) -> int:
        uid = self.uidnext
        self.uidnext = uid + 1
        return uid

    def take_uids(self, count: int) -> list[int]:
        first = self.uidnext
        self.uidnext = first + count
        return list(range(first, self.uidnext))

    def next_modseq(self) -> int:
        self.highestmodseq += 1
        return self.highestmodseq

    def written(self) -> dict[str, int]:
        """The parameters of `ADVANCE_FOLDERS` for this folder."""
        return {"folder_id": self.id, "new_uidnext": self.uidnext, "new_modseq": self.highestmodseq}


ADVANCE_FOLDERS = Prepared(
    update(folders)
    .where(folders.c.id == bindparam("folder_id"))
    .values(uidnext=bindparam("new_uidnext"), highestmodseq=bindparam("new_modseq"))
)
"""Write taken counters back (one parameter set per folder, from `FolderCounters.written`)."""


@dataclass(frozen=True)
class ByUids:
    """A statement over some of a folder's messages, built once in three forms: over a range of uids
    (parameters `uid_low`, `uid_high`, prepared), over a list of them (`uid_list`), and on PostgreSQL
    over any uids in one prepared statement (an array parameter, `uids`; see `array_asked`)."""

    in_range: Prepared
    in_list: Executable
    in_array: Prepared

    @classmethod
    def of(cls, build: Callable[[ColumnElement[bool]], Executable]) -> ByUids:
        return cls(
            Prepared(build(messages.c.uid.between(bindparam("uid_low"), bindparam("uid_high")))),
            build(messages.c.uid.in_(bindparam("uid_list", expanding=True))),
            Prepared(build(messages.c.uid == any_(bindparam("uids", type_=ARRAY(BigInteger))))),
        )

    @staticmethod
    def array_asked(uids: Sequence[int], **parameters: Any) -> dict[str, Any]:
        """The parameters of `in_array` for `uids`."""
        return {**parameters, "uids": sorted(set(uids))}

    def rows(self, connection: Connection, uids: Sequence[int], **parameters: Any) -> list[Any]:
        """The rows for `uids` (with attribute access and `_asdict`): one statement when they are
        consecutive, else one per chunk."""
        if not uids:
            return []
        ordered = sorted(set(uids))
        if ordered[-1] - ordered[0] + 1 == len(ordered):
            chosen = {**parameters, "uid_low": ordered[0], "uid_high": ordered[-1]}
            return self.in_range.rows(connection, chosen)
        found: list[Row[Any]] = []
        for start in range(0, len(ordered), CHUNK):
            chosen = {**parameters, "uid_list": ordered[start : start + CHUNK]}
            found += connection.execute(self.in_list, chosen).all()
        return found


_OF_FOLDER = messages.c.folder_id == bindparam("folder_id")
STORE_ROWS = ByUids.of(lambda uids: select(messages.c.id, *META_COLUMNS).where(_OF_FOLDER, uids))
_WRITE_FLAGS = Prepared(
    update(messages)
    .where(messages.c.id == bindparam("row_id"))
    .values(flags=bindparam("new_flags"), modseq=bindparam("new_modseq"))
)
_EXPUNGE_COLUMNS = (messages.c.id, messages.c.uid, messages.c.raw_id, messages.c.size, messages.c.flags)
DELETED_IN_FOLDER = Prepared(select(*_EXPUNGE_COLUMNS).where(_OF_FOLDER, MAY_BE_DELETED))
_IN_FOLDER = Prepared(select(*_EXPUNGE_COLUMNS).where(_OF_FOLDER))
DELETED_OF_UIDS = ByUids.of(lambda uids: select(*_EXPUNGE_COLUMNS).where(_OF_FOLDER, MAY_BE_DELETED, uids))
_OF_UIDS = ByUids.of(lambda uids: select(*_EXPUNGE_COLUMNS).where(_OF_FOLDER, uids))
_SOURCE_ROWS = ByUids.of(
    lambda uids: select(messages.c.id, messages.c.uid, messages.c.flags, messages.c.size).where(
        _OF_FOLDER, uids
    )
)
_KEPT_BY_A_COPY = [c for c in messages.c if c.name not in {"id", "folder_id", "uid", "modseq"}]
_COPY_ROW = Prepared(
    insert(messages).from_select(
        [*_KEPT_BY_A_COPY, messages.c.folder_id, messages.c.uid, messages.c.modseq],
        select(
            *_KEPT_BY_A_COPY,
            bindparam("target_id", type_=BigInteger),
            bindparam("new_uid", type_=BigInteger),
            bindparam("new_modseq", type_=BigInteger),
        ).where(messages.c.id == bindparam("row_id")),
    )
)
"""A copy made inside the database: the message's row never comes to the server and goes back."""
_DELETE_MESSAGE = Prepared(delete(messages).where(messages.c.id == bindparam("row_id")))
_UNSHARED = not_(select(messages.c.id).where(messages.c.raw_id == message_raw.c.id).exists())
"""A raw message that no message reads any more."""
_DELETE_UNSHARED_RAW = Prepared(delete(message_raw).where(message_raw.c.id == bindparam("raw_id"), _UNSHARED))
DELETE_UNSHARED_RAWS = Prepared(
    delete(message_raw)
    .where(message_raw.c.id == any_(bindparam("raw_ids", type_=ARRAY(message_raw.c.id.type))), _UNSHARED)
    .returning(message_raw.c.id)
)
"""PostgreSQL: `_DELETE_UNSHARED_RAW` of some raw ids in one statement (an array parameter, `raw_ids`,
of at most `RAWS_PER_DELETE`); the ids deleted."""
RAWS_PER_DELETE = 100
_GIVE_BACK_QUOTA = Prepared(
    update(mailboxes)
    .where(mailboxes.c.id == bindparam("mailbox_id"))
    .values(used_bytes=mailboxes.c.used_bytes - bindparam("freed"))
)
_COUNT_ADDED_BYTES = Prepared(
    update(mailboxes)
    .where(mailboxes.c.id == bindparam("mailbox_id"))
    .values(used_bytes=mailboxes.c.used_bytes + bindparam("added"))
    .returning(mailboxes.c.quota_bytes, mailboxes.c.used_bytes)
)
_RECORD_EXPUNGED = Prepared(insert(expunged_messages), ("folder_id", "uid", "modseq", "flags"))
_MOVE_ROWS = Prepared(
    update(messages)
    .where(messages.c.id == bindparam("row_id"))
    .values(folder_id=bindparam("target_id"), uid=bindparam("new_uid"), modseq=bindparam("new_modseq"))
)
_RAISE_MODSEQ = Prepared(
    update(folders)
    .where(folders.c.id == bindparam("folder_id"))
    .values(highestmodseq=bindparam("new_modseq"))
)
_TAKE_MODSEQ = Prepared(
    update(folders)
    .where(folders.c.mailbox_id == bindparam("mailbox_id"), folders.c.id == bindparam("folder_id"))
    .values(highestmodseq=folders.c.highestmodseq + 1)
    .returning(folders.c.highestmodseq)
)


# PostgreSQL: a change written by one statement, its folder's row locked first and held only for it
# (the writes that need not be durable at once run outside a transaction there, so nothing else runs
# under the lock: no round trip to a busy event loop between statements). The folder's HIGHESTMODSEQ is
# raised by the statement's last query, and only when a row was changed: a re-check that finds nothing
# left leaves the folder as it was. Sub-statements of one WITH see one snapshot, taken before the
# statement waited for the folder's row: only the rows a sub-statement locks, or changes, are seen as
# they are after the wait, and a changed row is re-checked against its newest version only where its
# version in the snapshot met the condition. So each re-checks that its rows are still as read, a
# condition that a commit meanwhile could make true is asked again in a statement of its own when it
# failed (COPY's quota: locking the mailbox row in a sub-statement and then updating it made two writers
# of one mailbox deadlock, the update starting again from the row as in the snapshot and queueing behind
# the other waiting there), and nothing read from other rows may decide a change. The main query reads
# the sub-statements in the lock order: the folder first, then the messages, the mailbox row (quota) last.
def _write_flags_statement(by_uid: bool) -> Prepared:
    key, match = ("uid", "") if by_uid else ("id", "messages.id = edited.id AND ")
    return Prepared(
        text(
            f"""
            WITH folder AS (
                SELECT highestmodseq + 1 AS highestmodseq FROM folders
                WHERE id = :folder_id AND mailbox_id = :mailbox_id
                FOR NO KEY UPDATE
            ), edited AS (
                SELECT * FROM unnest(
                    CAST(:row_ids AS BIGINT[]),
                    CAST(:uids AS BIGINT[]),
                    CAST(:old_modseqs AS BIGINT[]),
                    CAST(:new_flags AS TEXT[])
                ) AS edited (id, uid, old_modseq, flags)
            ), written AS (
                UPDATE messages SET flags = edited.flags, modseq = folder.highestmodseq
                FROM edited, folder
                WHERE {match}messages.folder_id = :folder_id AND messages.uid = edited.uid
                    AND messages.modseq = edited.old_modseq
                RETURNING messages.{key}
            ), raised AS (
                UPDATE folders SET highestmodseq = folder.highestmodseq
                FROM folder
                WHERE folders.id = :folder_id AND EXISTS (SELECT FROM written)
            )
            SELECT folder.highestmodseq, ARRAY(SELECT {key} FROM written) AS written FROM folder
            """
        )
        .bindparams(
            bindparam("row_ids", type_=ARRAY(BigInteger)),
            bindparam("uids", type_=ARRAY(BigInteger)),
            bindparam("old_modseqs", type_=ARRAY(BigInteger)),
            bindparam("new_flags", type_=ARRAY(Text)),
        )
        .columns(column("highestmodseq", BigInteger), column("written", ARRAY(BigInteger)))
    )


WRITE_FLAGS_IN_ONE_STATEMENT = _write_flags_statement(by_uid=False)
WRITE_FLAGS_BY_UID = _write_flags_statement(by_uid=True)
"""`WRITE_FLAGS_IN_ONE_STATEMENT` for messages known by uid alone (their flags and modseq known without
a read, `folder_reads.TargetRow`s whose `id` is their uid): `written` gives uids; each message is
written only at the modseq it was known at."""


EXPUNGE_IN_ONE_STATEMENT = Prepared(
    text(
        r"""
        WITH folder AS (
            SELECT highestmodseq + 1 AS highestmodseq FROM folders
            WHERE id = :folder_id AND mailbox_id = :mailbox_id
            FOR NO KEY UPDATE
        ), gone AS (
            DELETE FROM messages
            WHERE id = ANY(CAST(:row_ids AS BIGINT[])) AND folder_id = :folder_id
                AND uid = ANY(CAST(:uids AS BIGINT[]))
                AND (NOT :only_deleted OR position('\Deleted' IN flags) > 0)
            RETURNING id, uid, raw_id, size, flags
        ), recorded AS (
            INSERT INTO expunged_messages (folder_id, uid, modseq, flags)
            SELECT :folder_id, gone.uid, folder.highestmodseq, gone.flags FROM gone, folder
            RETURNING uid
        ), quota AS (
            UPDATE mailboxes SET used_bytes = used_bytes - (SELECT coalesce(sum(size), 0) FROM gone)
            WHERE id = :mailbox_id
            RETURNING used_bytes
        ), raised AS (
            UPDATE folders SET highestmodseq = folder.highestmodseq
            FROM folder
            WHERE folders.id = :folder_id AND EXISTS (SELECT FROM gone)
        )
        SELECT
            folder.highestmodseq,
            ARRAY(SELECT uid FROM gone ORDER BY uid) AS uids,
            ARRAY(SELECT flags FROM gone ORDER BY uid) AS flags,
            ARRAY(SELECT DISTINCT raw_id FROM gone) AS raw_ids,
            (SELECT count(*) FROM recorded) AS recorded,
            (SELECT count(*) FROM quota) AS quota
        FROM folder
        """
    )
    .bindparams(
        bindparam("row_ids", type_=ARRAY(BigInteger)),
        bindparam("uids", type_=ARRAY(BigInteger)),
        bindparam("only_deleted", type_=Boolean),
    )
    .columns(
        column("highestmodseq", BigInteger),
        column("uids", ARRAY(BigInteger)),
        column("flags", ARRAY(Text)),
        column("raw_ids", ARRAY(Text)),
    )
)
"""The raw messages of the expunged are deleted by a statement of their own, after it: this one's snapshot
was taken before it waited for the folder's row, so a COPY committed meanwhile (sharing a raw message
with an expunged one) would not be seen, and its raw message would go."""

EXPUNGE_FLAGGED_IN_ONE_STATEMENT = Prepared(
    text(
        r"""
        WITH present AS (
            SELECT highestmodseq FROM folders WHERE id = :folder_id AND mailbox_id = :mailbox_id
        ), flagged AS (
            SELECT id FROM messages
            WHERE folder_id = :folder_id AND flags LIKE '%\Deleted%' ESCAPE '/'
                AND (CAST(:uids AS BIGINT[]) IS NULL OR uid = ANY(CAST(:uids AS BIGINT[])))
        ), folder AS (
            SELECT highestmodseq + 1 AS highestmodseq FROM folders
            WHERE id = :folder_id AND mailbox_id = :mailbox_id AND EXISTS (SELECT FROM flagged)
            FOR NO KEY UPDATE
        ), gone AS (
            DELETE FROM messages
            WHERE id IN (SELECT id FROM flagged) AND folder_id = :folder_id
                AND position('\Deleted' IN flags) > 0 AND EXISTS (SELECT FROM folder)
            RETURNING id, uid, raw_id, size, flags
        ), recorded AS (
            INSERT INTO expunged_messages (folder_id, uid, modseq, flags)
            SELECT :folder_id, gone.uid, folder.highestmodseq, gone.flags FROM gone, folder
            RETURNING uid
        ), quota AS (
            UPDATE mailboxes SET used_bytes = used_bytes - (SELECT coalesce(sum(size), 0) FROM gone)
            WHERE id = :mailbox_id AND EXISTS (SELECT FROM gone)
            RETURNING used_bytes
        ), raised AS (
            UPDATE folders SET highestmodseq = folder.highestmodseq
            FROM folder
            WHERE folders.id = :folder_id AND EXISTS (SELECT FROM gone)
        )
        SELECT
            CASE WHEN EXISTS (SELECT FROM gone) THEN folder.highestmodseq
                ELSE coalesce(folder.highestmodseq - 1, present.highestmodseq) END AS highestmodseq,
            ARRAY(SELECT uid FROM gone ORDER BY uid) AS uids,
            ARRAY(SELECT flags FROM gone ORDER BY uid) AS flags,
            ARRAY(SELECT DISTINCT raw_id FROM gone) AS raw_ids,
            (SELECT count(*) FROM recorded) AS recorded,
            (SELECT count(*) FROM quota) AS quota
        FROM present LEFT JOIN folder ON true
        WHERE folder.highestmodseq IS NOT NULL OR NOT EXISTS (SELECT FROM flagged)
        """
    )
    .bindparams(bindparam("uids", type_=ARRAY(BigInteger)))
    .columns(
        column("highestmodseq", BigInteger),
        column("uids", ARRAY(BigInteger)),
        column("flags", ARRAY(Text)),
        column("raw_ids", ARRAY(Text)),
    )
)
"""PostgreSQL: `EXPUNGE_IN_ONE_STATEMENT` that finds the messages to expunge itself (those flagged
\\Deleted, of `uids` when not NULL), for a session that needs no read of the folder's changes with
them: one round trip. The folder's row is locked only when its snapshot found some (an EXPUNGE with
nothing to remove writes nothing), and each is deleted only if it is still flagged when the lock is
held: a message whose flag was removed meanwhile stays, one flagged meanwhile is left to a later
EXPUNGE (as with a read first). `highestmodseq`: the write's when something went, else the folder's
as read under the lock (or in the snapshot, when nothing was flagged). No row: the folder is gone
(also when it went while the statement waited for it). Its raw messages go as that one's do."""
_COPIED_COLUMNS = ", ".join(kept.name for kept in _KEPT_BY_A_COPY)
_COPY_IN_ONE_STATEMENT = Prepared(
    text(
        f"""
        WITH locked AS (
            SELECT id, name, uidnext, highestmodseq, uidvalidity FROM folders
            WHERE mailbox_id = :mailbox_id AND (id = :source_id OR name = :target_name)
            ORDER BY id
            FOR NO KEY UPDATE
        ), target AS (
            SELECT * FROM locked WHERE name = :target_name
        ), source AS MATERIALIZED (
            SELECT * FROM messages
            WHERE folder_id = :source_id AND uid = ANY(CAST(:uids AS BIGINT[]))
                AND EXISTS (SELECT FROM target) AND EXISTS (SELECT FROM locked WHERE id = :source_id)
            FOR SHARE
        ), added AS (
            SELECT count(*) AS count, coalesce(sum(size), 0) AS bytes FROM source
        ), counted AS (
            UPDATE mailboxes SET used_bytes = used_bytes + added.bytes
            FROM added
            WHERE mailboxes.id = :mailbox_id AND added.count > 0
                AND used_bytes + added.bytes <= coalesce(nullif(quota_bytes, 0), :default_quota)
            RETURNING used_bytes
        ), advanced AS (
            UPDATE folders SET uidnext = target.uidnext + added.count, highestmodseq = target.highestmodseq + 1
            FROM target, added
            WHERE folders.id = target.id AND EXISTS (SELECT FROM counted)
        ), copied AS (
            INSERT INTO messages ({_COPIED_COLUMNS}, folder_id, uid, modseq)
            SELECT {_COPIED_COLUMNS}, target.id, target.uidnext + place - 1, target.highestmodseq + 1
            FROM (SELECT *, row_number() OVER (ORDER BY uid) AS place FROM source) AS placed, target
            WHERE EXISTS (SELECT FROM counted)
        )
        SELECT
            target.id AS target_id,
            target.uidvalidity,
            target.uidnext AS first_uid,
            target.highestmodseq + 1 AS modseq,
            ARRAY(SELECT uid FROM source ORDER BY uid) AS source_uids,
            ARRAY(SELECT flags FROM source ORDER BY uid) AS source_flags,
            ARRAY(SELECT internal_date FROM source ORDER BY uid) AS source_dates,
            ARRAY(SELECT size FROM source ORDER BY uid) AS source_sizes,
            (SELECT count(*) FROM counted) AS counted,
            EXISTS (SELECT FROM locked WHERE id = :source_id) AS source_found,
            EXISTS (SELECT FROM mailboxes WHERE id = :mailbox_id) AS mailbox_found
        FROM (SELECT 1) AS one LEFT JOIN target ON true
        """
    )
    .bindparams(
        bindparam("uids", type_=ARRAY(BigInteger)),
        bindparam("source_id", type_=BigInteger),
        bindparam("default_quota", type_=BigInteger),
    )
    .columns(
        column("target_id", BigInteger),
        column("uidvalidity", BigInteger),
        column("first_uid", BigInteger),
        column("modseq", BigInteger),
        column("source_uids", ARRAY(BigInteger)),
        column("source_flags", ARRAY(Text)),
        column("source_dates", ARRAY(DateTime(timezone=True))),
        column("source_sizes", ARRAY(BigInteger)),
        column("counted", BigInteger),
        column("source_found", Boolean),
        column("mailbox_found", Boolean),
    )
)
"""COPY on PostgreSQL in one statement that commits alone: no lock is held over a round trip to the
server. In the lock order of every writer: both folders' rows in id order (as MOVE and delivery take
them; the target's counters are read from its row as locked), then the source messages `FOR SHARE`
(read as they are after any wait, flags included), then the mailbox row, whose quota is read as locked:
the bytes are counted only where they fit (`Quota.of_mailbox`'s limit: the mailbox's own, else the
default). The target's counters move and the copies are made only where the bytes were counted, so a
copy over the quota writes nothing. The messages are copied inside the database: their rows never come
to the server and go back.

The source folder's row is locked, not only its messages: writers of the source folder hold its row
while they change its messages in an order of their own (an EXPUNGE deletes in id order, a COPY reads
in uid order, which a MOVE makes differ), so without it the two could each wait for the other."""
_LOCK_FOLDERS_OF_MAILBOXES = (
    select(folders.c.id)
    .where(folders.c.mailbox_id.in_(bindparam("mailbox_ids", expanding=True)))
    .order_by(folders.c.id)
    .with_for_update(key_share=True)
)
_OF_MAILBOX = folders.c.mailbox_id == bindparam("mailbox_id")
_LOCK_FOLDER_BY_NAME = Prepared(
    select(folders).where(_OF_MAILBOX, folders.c.name == bindparam("name")).with_for_update(key_share=True)
)
_LOCK_SOURCE_AND_TARGET = Prepared(
    select(folders)
    .where(
        _OF_MAILBOX, or_(folders.c.id == bindparam("source_id"), folders.c.name == bindparam("target_name"))
    )
    .order_by(folders.c.id)
    .with_for_update(key_share=True)
)


def flag_change(change: FlagChange, flags: frozenset[str]) -> FlagEdit:
    """IMAP STORE's edit: add, remove or replace `flags`."""
    if change is FlagChange.ADD:
        return lambda current: current | flags
    if change is FlagChange.REMOVE:
        return lambda current: current - flags
    return lambda _current: flags


def add_and_remove(add: frozenset[str], remove: frozenset[str]) -> FlagEdit:
    """The HTTP API's edit: add some flags and remove others in one change."""
    return lambda current: (current | add) - remove


def store_flags(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int],
    edit: FlagEdit,
    unchanged_since: int | None = None,
) -> tuple[FlagsStored, FolderWrite | None]:
    """Edit the flags of `uids`; a message whose modseq is above `unchanged_since` is left alone and
    reported (CONDSTORE). Messages whose flags stay the same keep their modseq.

    The messages are read, edited, then written only where still as read (`_write_flags`): on
    PostgreSQL another writer may have changed some meanwhile, and those are read and edited again."""
    edits = FlagEdits(folder_id, edit, unchanged_since)
    pending: Sequence[int] = uids
    while pending:
        changed = edits.of(STORE_ROWS.rows(connection, pending, folder_id=folder_id))
        if not changed:
            break
        pending = edits.written(changed, *_write_flags(connection, mailbox_id, folder_id, changed))
    return edits.stored()


class FlagEdits:
    """What a STORE (`store_flags`) makes of the rows it reads, round after round: the edits to write,
    and from what each write wrote, the messages to read again and what to answer."""

    def __init__(self, folder_id: int, edit: FlagEdit, unchanged_since: int | None) -> None:
        self._folder_id = folder_id
        self._edit = edit
        self._unchanged_since = unchanged_since
        self._updated: list[MessageMeta] = []
        self._modified: list[int] = []
        self._write: FolderWrite | None = None

    @property
    def checks_modseqs(self) -> bool:
        """Whether it refuses messages changed since a modseq (UNCHANGEDSINCE)."""
        return self._unchanged_since is not None

    def of(self, rows: Sequence[Any]) -> list[tuple[Any, frozenset[str]]]:
        """The rows whose flags the edit changes, with their new flags (with `checks_modseqs`, the
        others are noted as refused)."""
        edits = []
        for row in rows:
            if self._unchanged_since is not None and row.modseq > self._unchanged_since:
                self._modified.append(row.uid)
                continue
            current = frozenset(row.flags.split())
            wanted = self._edit(current)
            if wanted != current:
                edits.append((row, wanted))
        return edits

    def written(self, edits: list[tuple[Any, frozenset[str]]], modseq: int, written: set[int]) -> list[int]:
        """Of `edits`, those of the rows `written` (ids) took `modseq`; the uids of the others, changed
        by another writer since they were read, to read and edit again."""
        if written:
            self._write = FolderWrite(self._folder_id, modseq)
        self._updated += [
            MessageMeta(row.uid, modseq, wanted, row.internal_date, row.size)
            for row, wanted in edits
            if row.id in written
        ]
        return [row.uid for row, _ in edits if row.id not in written]

    def stored(self) -> tuple[FlagsStored, FolderWrite | None]:
        updated = sorted(self._updated, key=lambda meta: meta.uid)
        return FlagsStored(tuple(updated), tuple(sorted(self._modified))), self._write


def expunge(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int] | None,
    only_deleted: bool = True,
) -> tuple[list[int], FolderWrite | None]:
    """Remove the messages of `uids` (all when None) flagged \\Deleted, or all of them without
    `only_deleted`; their uids, ascending."""
    candidates: list[Any]
    if uids is None:
        whole = DELETED_IN_FOLDER if only_deleted else _IN_FOLDER
        candidates = whole.rows(connection, {"folder_id": folder_id})
    else:
        some = DELETED_OF_UIDS if only_deleted else _OF_UIDS
        candidates = some.rows(connection, uids, folder_id=folder_id)
    doomed = doomed_of(candidates, only_deleted)
    if not doomed:
        return [], None
    if connection.dialect.name == "postgresql":
        parameters = expunge_parameters(mailbox_id, folder_id, doomed, only_deleted)
        found = EXPUNGE_IN_ONE_STATEMENT.rows(connection, parameters)
        for asked in unshared_raws_asked(found):
            DELETE_UNSHARED_RAWS.run(connection, asked)
        return expunged_in_one_statement(found, folder_id)
    modseq = _take_modseq(connection, mailbox_id, folder_id)
    expunged = sorted(row.uid for row in doomed)
    record_expunged(connection, folder_id, expunged, modseq, {row.uid: row.flags for row in doomed})
    give_back_quota(connection, mailbox_id, remove_messages(connection, doomed))
    return expunged, FolderWrite(folder_id, modseq)


def copy_messages(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int],
    target_name: str,
    move: bool,
    default_quota: int,
) -> tuple[Copied, list[FolderWrite]]:
    """Copy (or move) `uids` to the folder named `target_name`, with new uids there. A copy counts
    against the quota (`MailboxFull`); a move does not, and expunges the sources."""
    if connection.dialect.name == "postgresql" and not move:
        return _copy_in_one_statement(connection, mailbox_id, folder_id, uids, target_name, default_quota)
    source, target = _lock_source_and_target(connection, mailbox_id, folder_id, target_name)
    rows = _source_rows(connection, folder_id, uids)
    if not rows:
        return Copied(target.uidvalidity, (), ()), []
    same_folder = target.id == source.id
    counters = FolderCounters.of_row(target)
    target_uids = counters.take_uids(len(rows))
    target_modseq = counters.next_modseq()
    if move and not same_folder:
        _move_rows(connection, rows, target.id, target_uids, target_modseq)
    else:
        _insert_copies(connection, rows, target.id, target_uids, target_modseq)
    ADVANCE_FOLDERS.run(connection, counters.written())
    writes = [FolderWrite(target.id, target_modseq)]
    source_uids = [row.uid for row in rows]
    if move and same_folder:
        _, write = expunge(connection, mailbox_id, folder_id, source_uids, only_deleted=False)
        writes += [write] if write else []
    elif move:
        source_modseq = source.highestmodseq + 1
        flags = {row.uid: row.flags for row in rows}
        record_expunged(connection, source.id, source_uids, source_modseq, flags)
        _raise_modseq(connection, source.id, source_modseq)
        writes.append(FolderWrite(source.id, source_modseq))
    if not move or same_folder:  # a move within one folder copied, then expunged the sources
        added = sum(row.size for row in rows)
        before = count_added_bytes(connection, mailbox_id, added, default_quota)
        if before is None:
            raise NoResultFound(f"no mailbox {mailbox_id}")
        if not move and not before.allows(added):
            raise MailboxFull("the copy would exceed the mailbox quota")
    return Copied(target.uidvalidity, tuple(source_uids), tuple(target_uids)), writes


def count_added_bytes(
    connection: Connection, mailbox_id: str, added: int, default_quota: int
) -> Quota | None:
    """Add `added` bytes to the mailbox's `used_bytes`, locking its row: a write's last statements (see
    the lock order above). The quota as it was before them (None without a mailbox row); the caller
    raises, rolling the write back, when they did not fit."""
    mailbox = _COUNT_ADDED_BYTES.first(connection, {"mailbox_id": mailbox_id, "added": added})
    return None if mailbox is None else quota_before(mailbox, added, default_quota)


def quota_before(counted: Any, added: int, default_quota: int) -> Quota:
    """The quota of a mailbox row (`quota_bytes`, `used_bytes`) read back after `added` bytes were counted
    in it, as it was before them."""
    return Quota.of_mailbox(counted.quota_bytes, counted.used_bytes - added, default_quota)


def remove_messages(connection: Connection, rows: Sequence[Any]) -> int:
    """Delete message rows (each with its `id`, `raw_id` and `size`) and the raw bytes no other row
    shares; the bytes freed, for `give_back_quota`."""
    _DELETE_MESSAGE.run_many(connection, [{"row_id": row.id} for row in rows])
    _DELETE_UNSHARED_RAW.run_many(
        connection, [{"raw_id": raw_id} for raw_id in sorted({row.raw_id for row in rows})]
    )
    return sum(row.size for row in rows)


def give_back_quota(connection: Connection, mailbox_id: str, freed: int) -> None:
    """Locks the mailbox row: a write's last statements only (see the lock order above)."""
    if freed:
        _GIVE_BACK_QUOTA.run(connection, {"mailbox_id": mailbox_id, "freed": freed})


_OF_THE_MAILBOX = messages.c.mailbox_id == bindparam("mailbox_id")
_RAISE_MODSEQ_OF_FOLDERS_WITH_MESSAGES = Prepared(
    update(folders)
    .where(
        folders.c.mailbox_id == bindparam("mailbox_id"),
        exists(select(messages.c.id).where(messages.c.folder_id == folders.c.id)),
    )
    .values(highestmodseq=folders.c.highestmodseq + 1)
    .returning(folders.c.id, folders.c.highestmodseq)
)
_RECORD_EVERY_MESSAGE_EXPUNGED = Prepared(
    insert(expunged_messages).from_select(
        ["folder_id", "uid", "modseq", "flags"],
        select(messages.c.folder_id, messages.c.uid, folders.c.highestmodseq, messages.c.flags)
        .join_from(messages, folders, folders.c.id == messages.c.folder_id)
        .where(_OF_THE_MAILBOX),
    )
)
_DELETE_RAWS_OF_THE_MAILBOX = Prepared(
    delete(message_raw).where(message_raw.c.id.in_(select(messages.c.raw_id).where(_OF_THE_MAILBOX)))
)
_DELETE_MESSAGES_OF_THE_MAILBOX = Prepared(delete(messages).where(_OF_THE_MAILBOX))
_NOTHING_USED = Prepared(
    update(mailboxes).where(mailboxes.c.id == bindparam("mailbox_id")).values(used_bytes=0)
)


def expunge_whole_mailbox(connection: Connection, mailbox_id: str) -> tuple[int, list[FolderWrite]]:
    """Every message of the mailbox goes, as an EXPUNGE takes messages (the purge of an expired mailbox's
    mail): each folder that had any takes a new modseq and records them expunged at it, so whatever a
    session or the node kept of the folder learns of it from the folder's changes. Raw bytes are never
    shared between mailboxes, so all of the mailbox's go. The messages removed, and the folders' writes.
    The caller holds every folder of the mailbox (`lock_whole_mailboxes`), so no other writer holds any
    of its messages or waits for its folders holding its mailbox row."""
    asked = {"mailbox_id": mailbox_id}
    raised = _RAISE_MODSEQ_OF_FOLDERS_WITH_MESSAGES.rows(connection, asked)
    _RECORD_EVERY_MESSAGE_EXPUNGED.run(connection, asked)
    _DELETE_RAWS_OF_THE_MAILBOX.run(connection, asked)
    removed = _DELETE_MESSAGES_OF_THE_MAILBOX.run(connection, asked)
    _NOTHING_USED.run(connection, asked)  # the mailbox row last (the lock order above)
    return removed, [FolderWrite(row.id, row.highestmodseq) for row in raised]


def lock_whole_mailboxes(connection: Connection, mailbox_ids: set[str]) -> None:
    """Every folder of the mailboxes, in id order: for a write that may change any of them and must
    take them before any mailbox row."""
    if connection.dialect.name != "sqlite":  # one writer at a time there already
        connection.execute(_LOCK_FOLDERS_OF_MAILBOXES, {"mailbox_ids": sorted(mailbox_ids)}).all()


def record_expunged(
    connection: Connection, folder_id: int, uids: list[int], modseq: int, flags: dict[int, str] | None = None
) -> None:
    """`flags`: what EXPUNGE removed the messages with, for sessions that still show them."""
    known = flags or {}
    _RECORD_EXPUNGED.run_many(
        connection,
        [{"folder_id": folder_id, "uid": uid, "modseq": modseq, "flags": known.get(uid)} for uid in uids],
    )


def uid_conditions(uids: Sequence[int]) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses covering `uids`: one range when they are consecutive, else chunks of IN lists."""
    if not uids:
        return
    ordered = sorted(set(uids))
    if ordered[-1] - ordered[0] + 1 == len(ordered):
        yield messages.c.uid.between(ordered[0], ordered[-1])
        return
    for start in range(0, len(ordered), CHUNK):
        yield messages.c.uid.in_(ordered[start : start + CHUNK])


def lock_folder_by_name(connection: Connection, mailbox_id: str, name: str) -> Any:
    folder = _LOCK_FOLDER_BY_NAME.first(connection, {"mailbox_id": mailbox_id, "name": name})
    if folder is None:
        raise FolderNotFound(f"no folder named {name}")
    return folder


def _lock_source_and_target(
    connection: Connection, mailbox_id: str, source_id: int, target_name: str
) -> tuple[Any, Any]:
    """Both folder rows of a copy, found and locked together, in id order, by one statement."""
    parameters = {"mailbox_id": mailbox_id, "source_id": source_id, "target_name": target_name}
    locked = _LOCK_SOURCE_AND_TARGET.rows(connection, parameters)
    source = next((row for row in locked if row.id == source_id), None)
    target = next((row for row in locked if row.name == target_name), None)
    if source is None:
        raise FolderNotFound("the selected folder no longer exists")
    if target is None:
        raise FolderNotFound(f"no folder named {target_name}")
    return source, target


def _take_modseq(connection: Connection, mailbox_id: str, folder_id: int) -> int:
    """Lock the folder's row and raise its HIGHESTMODSEQ by one, in one statement; the new modseq. Taken
    once the change is known to change something."""
    taken = _TAKE_MODSEQ.first(connection, {"mailbox_id": mailbox_id, "folder_id": folder_id})
    if taken is None:
        raise FolderNotFound("the selected folder no longer exists")
    return int(taken.highestmodseq)


def _write_flags(
    connection: Connection, mailbox_id: str, folder_id: int, edits: list[tuple[Any, frozenset[str]]]
) -> tuple[int, set[int]]:
    """Give the edited messages their new flags and one new modseq, where still at the modseq they were
    read with; that modseq and the ids of the rows written."""
    if connection.dialect.name == "postgresql":
        parameters = write_flags_parameters(mailbox_id, folder_id, edits)
        return flags_written(WRITE_FLAGS_IN_ONE_STATEMENT.rows(connection, parameters))
    # SQLite: one writer at a time, so every row is still as read
    modseq = _take_modseq(connection, mailbox_id, folder_id)
    _WRITE_FLAGS.run_many(
        connection,
        [
            {"row_id": row.id, "new_flags": _stored_flags(wanted), "new_modseq": modseq}
            for row, wanted in edits
        ],
    )
    return modseq, {row.id for row, _ in edits}


def write_flags_parameters(
    mailbox_id: str, folder_id: int, edits: list[tuple[Any, frozenset[str]]]
) -> dict[str, Any]:
    """The parameters of `WRITE_FLAGS_IN_ONE_STATEMENT` for `edits` (rows read, and their new flags)."""
    return {
        "folder_id": folder_id,
        "mailbox_id": mailbox_id,
        "row_ids": [row.id for row, _ in edits],
        "uids": [row.uid for row, _ in edits],
        "old_modseqs": [row.modseq for row, _ in edits],
        "new_flags": [_stored_flags(wanted) for _, wanted in edits],
    }


def flags_written(found: Sequence[Any]) -> tuple[int, set[int]]:
    """What the rows of `WRITE_FLAGS_IN_ONE_STATEMENT` say: the modseq given, the ids of the rows
    written. No row: the folder is gone."""
    if not found:
        raise FolderNotFound("the selected folder no longer exists")
    return int(found[0].highestmodseq), set(found[0].written)


def _stored_flags(flags: frozenset[str]) -> str:
    return " ".join(sorted(flags))


def _copy_in_one_statement(
    connection: Connection,
    mailbox_id: str,
    source_id: int,
    uids: Sequence[int],
    target_name: str,
    default_quota: int,
) -> tuple[Copied, list[FolderWrite]]:
    parameters = {
        "mailbox_id": mailbox_id,
        "source_id": source_id,
        "uids": sorted(set(uids)),
        "target_name": target_name,
        "default_quota": default_quota,
    }
    copied = _COPY_IN_ONE_STATEMENT.first(connection, parameters)
    assert copied is not None  # a left join from one row: always one row
    if copied.source_uids and copied.mailbox_found and not copied.counted:
        # The room is read as the statement's snapshot had it, before it waited for its rows (only a
        # row that had room then is checked again as after the wait): room freed meanwhile is seen by
        # the statement asked again, which has a snapshot of its own. It wrote nothing.
        copied = _COPY_IN_ONE_STATEMENT.first(connection, parameters)
        assert copied is not None
    if not copied.source_found:
        raise FolderNotFound("the selected folder no longer exists")
    if copied.target_id is None:
        raise FolderNotFound(f"no folder named {target_name}")
    source_uids = tuple(int(uid) for uid in copied.source_uids)
    if not source_uids:
        return Copied(copied.uidvalidity, (), ()), []
    if not copied.mailbox_found:
        raise NoResultFound(f"no mailbox {mailbox_id}")
    if not copied.counted:
        raise MailboxFull("the copy would exceed the mailbox quota")
    target_uids = tuple(range(copied.first_uid, copied.first_uid + len(source_uids)))
    copies = tuple(
        MessageMeta(uid, copied.modseq, flag_set(flags), stored_utc(date), size)
        for uid, flags, date, size in zip(
            target_uids, copied.source_flags, copied.source_dates, copied.source_sizes, strict=True
        )
    )
    return Copied(copied.uidvalidity, source_uids, target_uids, copies), [
        FolderWrite(copied.target_id, copied.modseq)
    ]


def doomed_of(candidates: Sequence[Any], only_deleted: bool) -> list[Any]:
    """Of the rows read as `expunge`'s candidates, those it removes."""
    return [row for row in candidates if not only_deleted or DELETED in row.flags.split()]


def expunge_parameters(
    mailbox_id: str, folder_id: int, doomed: list[Any], only_deleted: bool
) -> dict[str, Any]:
    """The parameters of `EXPUNGE_IN_ONE_STATEMENT`, `expunge`'s writes on PostgreSQL: those of `doomed`
    still in the folder (and still flagged \\Deleted, with `only_deleted`) go. Outside a transaction,
    a crash between it and `DELETE_UNSHARED_RAWS` leaves raw messages no message reads: space, never a
    message, is lost."""
    return {
        "folder_id": folder_id,
        "mailbox_id": mailbox_id,
        "row_ids": [row.id for row in doomed],
        "uids": [row.uid for row in doomed],
        "only_deleted": only_deleted,
    }


def unshared_raws_asked(found: Sequence[Any]) -> list[dict[str, Any]]:
    """The parameter sets of `DELETE_UNSHARED_RAWS` after `EXPUNGE_IN_ONE_STATEMENT` gave `found`, one per
    `RAWS_PER_DELETE` raw messages: with a few hundred ids in one array PostgreSQL's planner turns from
    the indexes to reading `message_raw` and every mailbox's `messages` whole."""
    if not found:
        raise FolderNotFound("the selected folder no longer exists")
    raw_ids = sorted(found[0].raw_ids)
    return [
        {"raw_ids": raw_ids[start : start + RAWS_PER_DELETE]}
        for start in range(0, len(raw_ids), RAWS_PER_DELETE)
    ]


def expunged_in_one_statement(found: Sequence[Any], folder_id: int) -> tuple[list[int], FolderWrite | None]:
    """What `EXPUNGE_IN_ONE_STATEMENT` gave: the uids expunged, and the write when there were some."""
    if not found:  # the folder went between the read of its messages and the write
        raise FolderNotFound("the selected folder no longer exists")
    expunged = [int(uid) for uid in found[0].uids]
    return expunged, FolderWrite(folder_id, int(found[0].highestmodseq)) if expunged else None


def flags_expunged_in_one_statement(found: Sequence[Any]) -> list[tuple[int, str]]:
    """What `EXPUNGE_IN_ONE_STATEMENT` gave: (uid, the flags text it was removed with), by uid."""
    return [(int(uid), flags) for uid, flags in zip(found[0].uids, found[0].flags, strict=True)]


def _raise_modseq(connection: Connection, folder_id: int, modseq: int) -> None:
    _RAISE_MODSEQ.run(connection, {"folder_id": folder_id, "new_modseq": modseq})


def _source_rows(connection: Connection, folder_id: int, uids: Sequence[int]) -> list[Any]:
    return sorted(_SOURCE_ROWS.rows(connection, uids, folder_id=folder_id), key=lambda row: row.uid)


def _insert_copies(
    connection: Connection, rows: list[Any], target_id: int, target_uids: list[int], modseq: int
) -> None:
    _COPY_ROW.run_many(
        connection,
        [
            {"row_id": row.id, "target_id": target_id, "new_uid": uid, "new_modseq": modseq}
            for row, uid in zip(rows, target_uids, strict=True)
        ],
    )


def _move_rows(
    connection: Connection, rows: list[Any], target_id: int, target_uids: list[int], modseq: int
) -> None:
    _MOVE_ROWS.run_many(
        connection,
        [
            {"row_id": row.id, "new_uid": uid, "target_id": target_id, "new_modseq": modseq}
            for row, uid in zip(rows, target_uids, strict=True)
        ],
    )
