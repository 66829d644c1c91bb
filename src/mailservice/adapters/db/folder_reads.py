"""SELECT's and STATUS's read of a folder and the read of its changes after every command.

Opening a folder whose snapshot the process keeps (`folder_snapshots.py`) reads the folder's row and
the changes after the snapshot's modseq only, in one statement (`KEPT_OPEN`, `open_kept`, read with
`Database.read_statement`); a folder not kept, or kept as a different folder (renamed away, deleted and
created again), is read in a read transaction (`open_folder`, blocking, inside `Database.run_read`),
whole when no snapshot of it is kept. Every way a message leaves a folder that stays (EXPUNGE, MOVE, a
delete over HTTP, the retention sweep, the purge of an expired mailbox's mail) records it expunged at
a new modseq, so the changes after a snapshot's modseq are all that a snapshot misses: `KEPT_OPEN` does
not count the folder's messages, which took PostgreSQL a scan of the folder at every SELECT.

Rows are read as the driver gives them: the internal date is converted here (SQLite gives text, as
SQLAlchemy wrote it, PostgreSQL an aware datetime) and a flags text becomes one shared frozenset, which
costs a fraction of SQLAlchemy's type processing per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from mailservice.adapters.db.folder_snapshots import FolderSnapshot, FolderSnapshots
from mailservice.adapters.db.prepared import Prepared
from mailservice.adapters.db.search_criteria_sql import has_flag
from mailservice.adapters.db.tables import MAY_BE_DELETED, expunged_messages, folders, messages, recent_marks
from mailservice.domain.errors import FolderNotFound
from mailservice.domain.mail_session import FolderChanges, FolderStatus, MessageMeta, OpenedFolder
from mailservice.domain.messages import DELETED, SEEN


def open_folder(
    connection: Connection, mailbox_id: str, name: str, snapshots: FolderSnapshots
) -> OpenedFolder:
    """The folder and every message's metadata, in one snapshot of the database (run it in one)."""
    folder = _folder_named(connection, mailbox_id, name)
    status, snapshot = _status_from_snapshot(connection, mailbox_id, folder, snapshots)
    return OpenedFolder(status, snapshot.messages, snapshot.keywords)


def kept_open_asked(mailbox_id: str, name: str, kept: FolderSnapshot) -> dict[str, Any]:
    """The parameters of `KEPT_OPEN`: the folder named `name`, and the changes after `kept` of the
    folder `kept` is of (most often the same folder)."""
    return {"mailbox_id": mailbox_id, "name": name, "folder_id": kept.folder_id, "since": kept.highestmodseq}


def open_kept(
    rows: Sequence[Any], name: str, kept: FolderSnapshot, snapshots: FolderSnapshots
) -> OpenedFolder | None:
    """SELECT of a folder whose snapshot the process keeps, from the rows of `KEPT_OPEN`: one
    statement, so one snapshot of the database without a transaction (none of its round trips). None
    when the rows do not say the same folder at or after `kept` (renamed, deleted, made again):
    `open_folder` then."""
    folder = next((row for row in rows if row.kind == _FOLDER), None)
    if folder is None:
        return None
    # The folder's row carries its id in `size` (`_changes_query`).
    if (folder.size, folder.extra_a) != (kept.folder_id, kept.uidvalidity):
        return None
    changes = changes_of_rows(rows)
    if changes.highestmodseq < kept.highestmodseq:  # read before another session kept a newer one
        return None
    current = kept.advanced(changes.highestmodseq, changes.changed, changes.expunged)
    snapshots.keep(current, name=name)
    row = _KeptFolder(
        kept.folder_id, name, kept.uidvalidity, changes.uidnext, changes.highestmodseq, changes.recent_uid
    )
    return OpenedFolder(_status(row, current), current.messages, current.keywords)


def folder_status(
    connection: Connection, mailbox_id: str, name: str, snapshots: FolderSnapshots
) -> FolderStatus:
    """STATUS: the folder's counts, from the same snapshot as SELECT's (so a folder kept is counted
    from the changes since it, not by reading every message's row). A folder too large to be kept is
    counted by the database instead: reading it whole into the process at every STATUS took five times
    as long. Run it in one read snapshot."""
    folder = _folder_named(connection, mailbox_id, name)
    if folder.messages > snapshots.largest_kept:
        return _counted_status(connection, mailbox_id, folder.id)
    return _status_from_snapshot(connection, mailbox_id, folder, snapshots)[0]


def _folder_named(connection: Connection, mailbox_id: str, name: str) -> Any:
    folder = connection.execute(_FOLDER_BY_NAME, {"mailbox_id": mailbox_id, "name": name}).first()
    if folder is None:
        raise FolderNotFound(f"no folder named {name}")
    return folder


def _status_from_snapshot(
    connection: Connection, mailbox_id: str, folder: Any, snapshots: FolderSnapshots
) -> tuple[FolderStatus, FolderSnapshot]:
    snapshot, read_whole = _current(connection, mailbox_id, folder, snapshots)
    snapshots.keep(snapshot, read_whole, folder.name)
    return _status(folder, snapshot), snapshot


def _status(folder: Any, snapshot: FolderSnapshot) -> FolderStatus:
    """The counts of `folder` (a row with its id, name, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and recent
    mark) with its messages as `snapshot` holds them."""
    return FolderStatus(
        folder_id=folder.id,
        name=folder.name,
        uidvalidity=folder.uidvalidity,
        uidnext=folder.uidnext,
        highestmodseq=folder.highestmodseq,
        messages=len(snapshot.messages),
        unseen=snapshot.unseen,
        size=snapshot.size,
        recent_uid=folder.recent_uid,
        recent=snapshot.recent_above(folder.recent_uid),
        deleted=snapshot.deleted,
    )


def _counted_status(connection: Connection, mailbox_id: str, folder_id: int) -> FolderStatus:
    """The folder's counts computed by the database, in one statement (one snapshot on any backend)."""
    row = _COUNTED.first(connection, {"mailbox_id": mailbox_id, "folder_id": folder_id})
    if row is None:
        raise FolderNotFound("the folder no longer exists")
    return FolderStatus(**row._asdict())


def folder_changes(
    connection: Connection, mailbox_id: str, folder_id: int, since_modseq: int
) -> FolderChanges:
    """One statement, so one snapshot on any backend without a transaction (on PostgreSQL a single
    statement sees one snapshot even at READ COMMITTED): the folder's counters, the messages changed
    after `since_modseq` and the uids expunged after it. Asked after every command, it costs one round
    trip; an unchanged folder adds only two empty index lookups."""
    return changes_of_rows(CHANGES.rows(connection, changes_asked(mailbox_id, folder_id, since_modseq)))


def changes_asked(mailbox_id: str, folder_id: int, since_modseq: int) -> dict[str, Any]:
    """The parameters of `CHANGES`."""
    return {"mailbox_id": mailbox_id, "folder_id": folder_id, "since": since_modseq}


def changes_of_rows(rows: Sequence[Any], since_modseq: int | None = None) -> FolderChanges:
    """The `FolderChanges` that the rows of `CHANGES` tell; with `since_modseq` (at or above the read's
    own), only what they tell of changes after it, as if the read had been asked since then."""
    if since_modseq is not None:
        rows = [row for row in rows if row.kind == _FOLDER or row.modseq > since_modseq]
    folder = next((row for row in rows if row.kind == _FOLDER), None)
    if folder is None:
        raise FolderNotFound("the selected folder no longer exists")
    changed = sorted((row for row in rows if row.kind == _CHANGED), key=lambda row: row.uid)
    gone = sorted((row for row in rows if row.kind == _EXPUNGED), key=lambda row: row.uid)
    return FolderChanges(
        highestmodseq=folder.uid,
        uidnext=folder.modseq,
        changed=tuple(
            MessageMeta(r.uid, r.modseq, flag_set(r.flags), stored_utc(r.internal_date), r.size)
            for r in changed
        ),
        expunged=tuple(row.uid for row in gone),
        uidvalidity=folder.extra_a,
        recent_uid=folder.extra_b,
        last_flags=tuple((row.uid, flag_set(row.flags)) for row in gone if row.flags is not None),
    )


def expunged_modseqs(rows: Sequence[Any]) -> dict[int, int]:
    """The modseq of each expunge that the rows of `CHANGES` tell of (`changes_of_rows` leaves it out)."""
    return {row.uid: row.modseq for row in rows if row.kind == _EXPUNGED}


@lru_cache(maxsize=4096)
def flag_set(text: str) -> frozenset[str]:
    """The flags of a stored flags text; one frozenset for every message with the same flags."""
    return frozenset(text.split())


def stored_utc(value: datetime | str) -> datetime:
    """A stored datetime as read from the driver, as an aware UTC datetime (`UtcDateTime`'s reading)."""
    if isinstance(value, str):  # SQLite: naive UTC, as SQLAlchemy writes it
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _current(
    connection: Connection, mailbox_id: str, folder: Any, snapshots: FolderSnapshots
) -> tuple[FolderSnapshot, bool]:
    """The folder's snapshot as of this read, and whether it was read whole (not brought up to date
    from the kept one)."""
    kept = snapshots.find(mailbox_id, folder.id, folder.uidvalidity)
    if kept is not None and kept.highestmodseq <= folder.highestmodseq:
        if kept.highestmodseq < folder.highestmodseq:
            changes = folder_changes(connection, mailbox_id, folder.id, kept.highestmodseq)
            kept = kept.advanced(changes.highestmodseq, changes.changed, changes.expunged)
        if kept.highestmodseq == folder.highestmodseq and len(kept.messages) == folder.messages:
            return kept, False
    rows = connection.execute(_MESSAGES, {"folder_id": folder.id}).all()
    metas = (
        MessageMeta(uid, modseq, flag_set(flags), stored_utc(internal_date), size)
        for uid, modseq, flags, internal_date, size in rows
    )
    snapshot = FolderSnapshot.of(
        mailbox_id, folder.id, folder.uidvalidity, folder.highestmodseq, metas, snapshots.epoch
    )
    return snapshot, True


_RAW_DATE = String()
"""Read the internal date as the driver gives it (no result processing); `stored_utc` converts it."""

WITH_RECENT_MARK = folders.outerjoin(recent_marks, recent_marks.c.folder_id == folders.c.id)
RECENT_UID = func.coalesce(recent_marks.c.recent_uid, 0)
"""The folder's \\Recent mark (from `WITH_RECENT_MARK`): 0 until a session first claims."""

_FOLDER_COUNTERS = (
    folders.c.name,
    folders.c.uidvalidity,
    folders.c.uidnext,
    folders.c.highestmodseq,
    RECENT_UID.label("recent_uid"),
)
"""The folder's own columns of its STATUS (beside its id), read from `WITH_RECENT_MARK`."""

_MESSAGE_COUNT = (
    select(func.count()).select_from(messages).where(messages.c.folder_id == folders.c.id).scalar_subquery()
)
"""How many messages the folder of the row read has."""

_FOLDER_BY_NAME = (
    select(
        folders.c.id,
        *_FOLDER_COUNTERS,
        _MESSAGE_COUNT.label("messages"),
    )
    .select_from(WITH_RECENT_MARK)
    .where(folders.c.mailbox_id == bindparam("mailbox_id"), folders.c.name == bindparam("name"))
)

_MESSAGES = (
    select(
        messages.c.uid,
        messages.c.modseq,
        messages.c.flags,
        type_coerce(messages.c.internal_date, _RAW_DATE),
        messages.c.size,
    )
    .where(messages.c.folder_id == bindparam("folder_id"))
    .order_by(messages.c.uid)
)


def _count_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


_COUNTED = Prepared(
    select(
        folders.c.id.label("folder_id"),
        *_FOLDER_COUNTERS,
        func.count(messages.c.id).label("messages"),
        func.coalesce(func.sum(messages.c.size), 0).label("size"),
        _count_where(~has_flag(SEEN)).label("unseen"),
        _count_where(has_flag(DELETED)).label("deleted"),
        _count_where(messages.c.uid > RECENT_UID).label("recent"),
    )
    .select_from(WITH_RECENT_MARK.outerjoin(messages, messages.c.folder_id == folders.c.id))
    .where(folders.c.mailbox_id == bindparam("mailbox_id"), folders.c.id == bindparam("folder_id"))
    .group_by(folders.c.id, *_FOLDER_COUNTERS[:-1], recent_marks.c.recent_uid)
)
"""STATUS of a folder too large for the snapshot cache; its columns are `FolderStatus`'s fields."""

_CHANGED, _EXPUNGED, _FOLDER, _TARGET = 1, 2, 0, 3


def _changes_query(folder_named: bool = False, with_targets: bool = False, with_deleted: bool = False) -> Any:
    """Rows of (kind, uid, modseq, flags, internal_date, size, extra_a, extra_b); the folder's
    row carries (highestmodseq, uidnext, id, uidvalidity, recent_uid) in (uid, modseq, size, extra_a,
    extra_b). `folder_named`: the folder's row is the one named `name`, and the messages those of
    `folder_id` (`KEPT_OPEN`). `with_targets` (PostgreSQL): also the
    messages of the uids of the array `uids`, whatever their modseq, their row id in extra_a
    (`CHANGES_AND_TARGETS`); `with_deleted` (PostgreSQL): the targets are the folder's messages that
    may be flagged \\Deleted, of those uids alone with `with_targets` (`CHANGES_AND_DELETED`,
    `CHANGES_AND_DELETED_OF_UIDS`). The messages come first so that the
    result takes their column types. Built once: building costs more than running."""
    folder_id = bindparam("folder_id", type_=messages.c.folder_id.type)
    since = bindparam("since", type_=messages.c.modseq.type)
    no_int = cast(null(), Integer)
    changed = select(
        literal(_CHANGED).label("kind"),
        messages.c.uid,
        messages.c.modseq,
        messages.c.flags,
        type_coerce(messages.c.internal_date, _RAW_DATE).label("internal_date"),
        messages.c.size,
        no_int.label("extra_a"),
        no_int.label("extra_b"),
    ).where(messages.c.folder_id == folder_id, messages.c.modseq > since)
    expunged = select(
        literal(_EXPUNGED),
        expunged_messages.c.uid,
        expunged_messages.c.modseq,
        expunged_messages.c.flags,
        cast(null(), messages.c.internal_date.type),
        no_int,
        no_int,
        no_int,
    ).where(expunged_messages.c.folder_id == folder_id, expunged_messages.c.modseq > since)
    folder = (
        select(
            literal(_FOLDER),
            folders.c.highestmodseq,
            folders.c.uidnext,
            cast(null(), messages.c.flags.type),
            cast(null(), messages.c.internal_date.type),
            folders.c.id,
            folders.c.uidvalidity,
            RECENT_UID,
        )
        .select_from(WITH_RECENT_MARK)
        .where(
            folders.c.mailbox_id == bindparam("mailbox_id"),
            folders.c.name == bindparam("name") if folder_named else folders.c.id == folder_id,
        )
    )
    if not (with_targets or with_deleted):
        return union_all(changed, expunged, folder)
    chosen: list[ColumnElement[bool]] = [MAY_BE_DELETED] if with_deleted else []
    if with_targets:
        chosen.append(messages.c.uid == any_(bindparam("uids", type_=ARRAY(BigInteger))))
    targets = select(
        literal(_TARGET),
        messages.c.uid,
        messages.c.modseq,
        messages.c.flags,
        type_coerce(messages.c.internal_date, _RAW_DATE),
        messages.c.size,
        messages.c.id,
        no_int,
    ).where(messages.c.folder_id == folder_id, *chosen)
    return union_all(changed, expunged, folder, targets)


class TargetRow(NamedTuple):
    """A message a STORE is to change, as `message_changes.STORE_ROWS` reads it; or as the node knows
    it without a read, its `id` then its uid (for `message_changes.WRITE_FLAGS_BY_UID`)."""

    id: int
    uid: int
    modseq: int
    flags: str
    internal_date: datetime
    size: int


def targets_of_rows(rows: Sequence[Any]) -> list[TargetRow]:
    """The messages asked (a STORE's or an EXPUNGE's), from the rows of `CHANGES_AND_TARGETS`,
    `CHANGES_AND_DELETED` or `CHANGES_AND_DELETED_OF_UIDS`."""
    return [
        TargetRow(row.extra_a, row.uid, row.modseq, row.flags, stored_utc(row.internal_date), row.size)
        for row in rows
        if row.kind == _TARGET
    ]


CHANGES = Prepared(_changes_query())
"""The read of `folder_changes`, for `Database.read_statement` (with `changes_asked`, `changes_of_rows`)."""
KEPT_OPEN = Prepared(_changes_query(folder_named=True))
"""The read of `open_kept`, for `Database.read_statement` (with `kept_open_asked`)."""
CHANGES_AND_TARGETS = Prepared(_changes_query(with_targets=True))
"""PostgreSQL: `CHANGES` and a STORE's messages in one statement (with `changes_asked` and `uids`;
`changes_of_rows` and `targets_of_rows`)."""
CHANGES_AND_DELETED = Prepared(_changes_query(with_deleted=True))
"""PostgreSQL: `CHANGES` and the messages an EXPUNGE may remove in one statement (with `changes_asked`;
`changes_of_rows` and `targets_of_rows`)."""
CHANGES_AND_DELETED_OF_UIDS = Prepared(_changes_query(with_targets=True, with_deleted=True))
"""`CHANGES_AND_DELETED` for a UID EXPUNGE: of the uids of the array `uids` alone."""


class _KeptFolder(NamedTuple):
    """A folder row as `_status` reads it, for `open_kept`."""

    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    recent_uid: int
