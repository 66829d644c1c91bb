"""Folders and messages as IMAP sees them: listing, status, changes since a modseq, flags, copy, move, expunge.

Reads use a read-only connection. Writes run as one blocking transaction through `Database.run_write` and
take locks in the delivery writer's order (the mailbox row, then folder rows, by id), so no two writers
deadlock. Every change bumps the folder's HIGHESTMODSEQ and gives the changed messages that modseq; an
expunged message leaves its uid and modseq in `expunged_messages`, which is how another session learns of it.
After the commit, a `folder.changed` event for each changed folder goes through the one publisher.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    not_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.folders import new_folder, remember_deleted_uidvalidity
from mailservice.adapters.db.tables import (
    expunged_messages,
    folders,
    mailboxes,
    message_raw,
    messages,
    subscriptions,
)
from mailservice.domain.errors import FolderExists, FolderNotAllowed, FolderNotFound, MailboxFull
from mailservice.domain.mail_session import (
    HIERARCHY_SEPARATOR,
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
from mailservice.domain.messages import INBOX, SEEN, FolderChanged
from mailservice.domain.quota import Quota
from mailservice.ports import EventPublisher

DELETED = "\\Deleted"
_CHUNK = 1000
_META_COLUMNS = (
    messages.c.uid,
    messages.c.modseq,
    messages.c.flags,
    messages.c.internal_date,
    messages.c.size,
)

_TEXT_COLUMNS = (messages.c.envelope, messages.c.body, messages.c.bodystructure, messages.c.parts_json)
_STRUCTURE_COLUMNS = (
    (StructureItem.ENVELOPE, messages.c.envelope),
    (StructureItem.BODY, messages.c.body),
    (StructureItem.BODYSTRUCTURE, messages.c.bodystructure),
    (StructureItem.SECTIONS, messages.c.bodystructure),
    (StructureItem.SECTIONS, messages.c.parts_json),
)


class SqlMailFolders:
    def __init__(self, database: Database, default_quota_bytes: int, publisher: EventPublisher) -> None:
        self._database = database
        self._default_quota = default_quota_bytes
        self._publisher = publisher

    # Reads

    async def list_folders(self, mailbox_id: str) -> list[FolderInfo]:
        query = (
            select(folders.c.name, folders.c.special_use)
            .where(folders.c.mailbox_id == mailbox_id)
            .order_by(folders.c.name)
        )
        async with self._database.connection(read_only=True) as connection:
            rows = (await connection.execute(query)).all()
        subscribed = await self.subscriptions(mailbox_id)
        return [FolderInfo(row.name, row.special_use, row.name in subscribed) for row in rows]

    async def subscriptions(self, mailbox_id: str) -> frozenset[str]:
        """Every subscribed name, of a folder or not; INBOX always."""
        query = select(subscriptions.c.name).where(subscriptions.c.mailbox_id == mailbox_id)
        async with self._database.connection(read_only=True) as connection:
            names = (await connection.execute(query)).scalars().all()
        return frozenset((INBOX, *names))

    async def status(self, mailbox_id: str, name: str) -> FolderStatus:
        return await self._database.run_read(lambda c: _status(c, mailbox_id, name))

    async def open(self, mailbox_id: str, name: str) -> OpenedFolder:
        return await self._database.run_read(lambda c: _open(c, mailbox_id, name))

    async def changes(self, mailbox_id: str, folder_id: int, since_modseq: int) -> FolderChanges:
        """Asked after every IMAP command: mostly answered by the folder row alone, since every change
        to a folder (new message, flags, expunge) raises its HIGHESTMODSEQ."""
        folder = await self._database.run_read(lambda c: _folder_counters(c, mailbox_id, folder_id), False)
        if folder.highestmodseq <= since_modseq:
            return FolderChanges(
                folder.highestmodseq, folder.uidnext, (), (), folder.uidvalidity, folder.recent_uid
            )
        return await self._database.run_read(lambda c: _changes(c, mailbox_id, folder_id, since_modseq))

    async def claim_recent(self, mailbox_id: str, folder_id: int, up_to_uid: int) -> int:
        return await self._database.run_write(lambda c: _claim_recent(c, mailbox_id, folder_id, up_to_uid))

    async def structures(
        self, mailbox_id: str, folder_id: int, uids: Sequence[int], items: frozenset[StructureItem]
    ) -> list[MessageStructure]:
        found = await self._database.run_read(lambda c: _structures(c, mailbox_id, folder_id, uids, items))
        return [found[uid] for uid in uids if uid in found]

    async def raw(self, mailbox_id: str, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        return await self._database.run_read(lambda c: _raws(c, mailbox_id, folder_id, uids))

    async def headers(self, mailbox_id: str, folder_id: int, uids: Sequence[int]) -> dict[int, bytes]:
        header = func.substr(message_raw.c.raw, 1, messages.c.header_end, type_=LargeBinary)
        return await self._database.run_read(lambda c: _raws(c, mailbox_id, folder_id, uids, header))

    async def quota(self, mailbox_id: str) -> Quota:
        query = select(
            mailboxes.c.quota_bytes,
            mailboxes.c.used_bytes,
            select(func.count()).where(messages.c.mailbox_id == mailbox_id).scalar_subquery(),
        ).where(mailboxes.c.id == mailbox_id)
        async with self._database.connection(read_only=True) as connection:
            limit, used, count = (await connection.execute(query)).one()
        return Quota.of_mailbox(limit, used, self._default_quota, messages=count)

    # Writes

    async def create_folder(self, mailbox_id: str, name: str, now: datetime) -> None:
        await self._database.run_write(lambda c: _create(c, mailbox_id, name, now))

    async def delete_folder(self, mailbox_id: str, name: str) -> None:
        await self._database.run_write(lambda c: _delete_folder(c, mailbox_id, name))

    async def rename_folder(self, mailbox_id: str, old: str, new: str, now: datetime) -> FolderWrite | None:
        write = await self._database.run_write(lambda c: _rename(c, mailbox_id, old, new, now))
        await self._changed(mailbox_id, [write])
        return write

    async def set_subscribed(self, mailbox_id: str, name: str, subscribed: bool) -> None:
        """Subscriptions are names that outlive their folders: only an existing folder can be subscribed,
        but deleting it keeps the subscription (RFC 3501 section 6.3.6), as in Dovecot."""
        if name == INBOX:
            return

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
        mailbox_id: str,
        folder_id: int,
        uids: Sequence[int],
        change: FlagChange,
        flags: frozenset[str],
        unchanged_since: int | None,
    ) -> tuple[FlagsStored, FolderWrite | None]:
        stored, write = await self._database.run_write(
            lambda c: _store_flags(c, mailbox_id, folder_id, uids, change, flags, unchanged_since)
        )
        await self._changed(mailbox_id, [write])
        return stored, write

    async def copy(
        self, mailbox_id: str, folder_id: int, uids: Sequence[int], target: str, move: bool
    ) -> tuple[Copied, list[FolderWrite]]:
        copied, writes = await self._database.run_write(
            lambda c: _copy(c, mailbox_id, folder_id, uids, target, move, self._default_quota)
        )
        await self._changed(mailbox_id, writes)
        return copied, writes

    async def expunge(
        self, mailbox_id: str, folder_id: int, uids: Sequence[int] | None
    ) -> tuple[list[int], FolderWrite | None]:
        expunged, write = await self._database.run_write(lambda c: _expunge(c, mailbox_id, folder_id, uids))
        await self._changed(mailbox_id, [write])
        return expunged, write

    async def _changed(self, mailbox_id: str, writes: Sequence[FolderWrite | None]) -> None:
        await self._publisher.publish(
            [FolderChanged(mailbox_id, w.folder_id, w.modseq) for w in writes if w is not None]
        )

    async def folder_exists(self, mailbox_id: str, name: str) -> bool:
        async with self._database.connection(read_only=True) as connection:
            found = await connection.execute(
                select(folders.c.id).where(folders.c.mailbox_id == mailbox_id, folders.c.name == name)
            )
            return found.first() is not None


# Reading helpers


def _status(connection: Connection, mailbox_id: str, name: str) -> FolderStatus:
    folder = connection.execute(
        select(folders).where(folders.c.mailbox_id == mailbox_id, folders.c.name == name)
    ).first()
    if folder is None:
        raise FolderNotFound(f"no folder named {name}")
    unseen = func.sum(case((messages.c.flags.contains(SEEN, autoescape=True), 0), else_=1))
    recent = func.sum(case((messages.c.uid > folder.recent_uid, 1), else_=0))
    count, unseen_count, size, recent_count = connection.execute(
        select(func.count(), unseen, func.coalesce(func.sum(messages.c.size), 0), recent).where(
            messages.c.folder_id == folder.id
        )
    ).one()
    return FolderStatus(
        folder_id=folder.id,
        name=folder.name,
        uidvalidity=folder.uidvalidity,
        uidnext=folder.uidnext,
        highestmodseq=folder.highestmodseq,
        messages=count,
        unseen=int(unseen_count or 0),
        size=int(size),
        recent_uid=folder.recent_uid,
        recent=int(recent_count or 0),
    )


def _open(connection: Connection, mailbox_id: str, name: str) -> OpenedFolder:
    status = _status(connection, mailbox_id, name)
    rows = connection.execute(
        select(*_META_COLUMNS).where(messages.c.folder_id == status.folder_id).order_by(messages.c.uid)
    ).all()
    return OpenedFolder(status, tuple(_meta(row) for row in rows))


def _folder_counters(connection: Connection, mailbox_id: str, folder_id: int) -> Any:
    folder = connection.execute(
        select(folders.c.highestmodseq, folders.c.uidnext, folders.c.uidvalidity, folders.c.recent_uid).where(
            folders.c.mailbox_id == mailbox_id, folders.c.id == folder_id
        )
    ).first()
    if folder is None:
        raise FolderNotFound("the selected folder no longer exists")
    return folder


def _changes(connection: Connection, mailbox_id: str, folder_id: int, since_modseq: int) -> FolderChanges:
    folder = _folder_counters(connection, mailbox_id, folder_id)
    changed = connection.execute(
        select(*_META_COLUMNS)
        .where(messages.c.folder_id == folder_id, messages.c.modseq > since_modseq)
        .order_by(messages.c.uid)
    ).all()
    gone = connection.execute(
        select(expunged_messages.c.uid, expunged_messages.c.flags)
        .where(expunged_messages.c.folder_id == folder_id, expunged_messages.c.modseq > since_modseq)
        .order_by(expunged_messages.c.uid)
    ).all()
    return FolderChanges(
        highestmodseq=folder.highestmodseq,
        uidnext=folder.uidnext,
        changed=tuple(_meta(row) for row in changed),
        expunged=tuple(row.uid for row in gone),
        uidvalidity=folder.uidvalidity,
        recent_uid=folder.recent_uid,
        last_flags=tuple((row.uid, frozenset(row.flags.split())) for row in gone if row.flags is not None),
    )


def _claim_recent(connection: Connection, mailbox_id: str, folder_id: int, up_to_uid: int) -> int:
    """Compare and set, so that two sessions (on any nodes) never take the same message as recent."""
    while True:
        mark = _folder_counters(connection, mailbox_id, folder_id).recent_uid
        if mark >= up_to_uid:
            return int(mark)
        raised = connection.execute(
            update(folders)
            .where(folders.c.id == folder_id, folders.c.recent_uid == mark)
            .values(recent_uid=up_to_uid)
        )
        if raised.rowcount == 1:
            return int(mark)


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
    for condition in _uid_conditions(uids):
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


def _raws(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int],
    content: ColumnElement[Any] = message_raw.c.raw,
) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for condition in _uid_conditions(uids):
        query = (
            select(messages.c.uid, content)
            .join(message_raw, message_raw.c.id == messages.c.raw_id)
            .where(messages.c.mailbox_id == mailbox_id, messages.c.folder_id == folder_id, condition)
        )
        for uid, raw in connection.execute(query).all():
            found[uid] = bytes(raw)
    return found


def _meta(row: Any) -> MessageMeta:
    uid, modseq, flags, internal_date, size = row
    return MessageMeta(uid, modseq, frozenset(flags.split()), internal_date, size)


def _top_content_type(bodystructure: str) -> str:
    """Only "multipart or not" matters to section lookup, and a multipart's BODYSTRUCTURE opens with "(("."""
    if bodystructure.startswith("(("):
        return "multipart/mixed"
    return "text/plain"


def _uid_conditions(uids: Sequence[int]) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses covering `uids`: one range when they are consecutive, else chunks of IN lists."""
    if not uids:
        return
    ordered = sorted(set(uids))
    if ordered[-1] - ordered[0] + 1 == len(ordered):
        yield messages.c.uid.between(ordered[0], ordered[-1])
        return
    for start in range(0, len(ordered), _CHUNK):
        yield messages.c.uid.in_(ordered[start : start + _CHUNK])


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


def _delete_folder(connection: Connection, mailbox_id: str, name: str) -> None:
    if name == INBOX:
        raise FolderNotAllowed("INBOX cannot be deleted")
    _lock_mailbox(connection, mailbox_id)
    folder = _lock_folder_by_name(connection, mailbox_id, name)
    rows = connection.execute(
        select(messages.c.id, messages.c.raw_id, messages.c.size).where(messages.c.folder_id == folder.id)
    ).all()
    _remove(
        connection,
        mailbox_id,
        [row.id for row in rows],
        {row.raw_id for row in rows},
        sum(r.size for r in rows),
    )
    connection.execute(delete(expunged_messages).where(expunged_messages.c.folder_id == folder.id))
    connection.execute(delete(folders).where(folders.c.id == folder.id))
    connection.execute(remember_deleted_uidvalidity(mailbox_id, folder.uidvalidity))


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
    inbox = _lock_folder_by_name(connection, mailbox_id, INBOX)
    _create_parents(connection, mailbox_id, new, _names(connection, mailbox_id), now)
    connection.execute(new_folder(mailbox_id, new, now))
    target = _lock_folder_by_name(connection, mailbox_id, new)
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
    _record_expunged(connection, inbox.id, list(moved), modseq)
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


def _store_flags(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int],
    change: FlagChange,
    flags: frozenset[str],
    unchanged_since: int | None,
) -> tuple[FlagsStored, FolderWrite | None]:
    folder = _lock_folder_by_id(connection, mailbox_id, folder_id)
    modseq = folder.highestmodseq + 1
    updated: list[MessageMeta] = []
    modified: list[int] = []
    changes: list[dict[str, Any]] = []
    for condition in _uid_conditions(uids):
        rows = connection.execute(
            select(messages.c.id, *_META_COLUMNS).where(messages.c.folder_id == folder_id, condition)
        ).all()
        for row in rows:
            if unchanged_since is not None and row.modseq > unchanged_since:
                modified.append(row.uid)
                continue
            current = frozenset(row.flags.split())
            wanted = _apply_change(current, change, flags)
            if wanted == current:
                continue
            changes.append({"row_id": row.id, "new_flags": " ".join(sorted(wanted)), "new_modseq": modseq})
            updated.append(MessageMeta(row.uid, modseq, wanted, row.internal_date, row.size))
    if not changes:
        return FlagsStored(tuple(updated), tuple(sorted(modified))), None
    connection.execute(
        update(messages)
        .where(messages.c.id == bindparam("row_id"))
        .values(flags=bindparam("new_flags"), modseq=bindparam("new_modseq")),
        changes,
    )
    connection.execute(update(folders).where(folders.c.id == folder_id).values(highestmodseq=modseq))
    updated.sort(key=lambda meta: meta.uid)
    return FlagsStored(tuple(updated), tuple(sorted(modified))), FolderWrite(folder_id, modseq)


def _apply_change(current: frozenset[str], change: FlagChange, flags: frozenset[str]) -> frozenset[str]:
    if change is FlagChange.ADD:
        return current | flags
    if change is FlagChange.REMOVE:
        return current - flags
    return flags


def _copy(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int],
    target_name: str,
    move: bool,
    default_quota: int,
) -> tuple[Copied, list[FolderWrite]]:
    mailbox = _lock_mailbox(connection, mailbox_id)
    source = _lock_folder_by_id(connection, mailbox_id, folder_id)
    target = _lock_folder_by_name(connection, mailbox_id, target_name)
    rows = _source_rows(connection, folder_id, uids)
    if not rows:
        return Copied(target.uidvalidity, (), ()), []
    added = sum(row["size"] for row in rows)
    quota = Quota.of_mailbox(mailbox.quota_bytes, mailbox.used_bytes, default_quota)
    if not move and not quota.allows(added):
        raise MailboxFull("the copy would exceed the mailbox quota")
    same_folder = target.id == source.id
    target_modseq = target.highestmodseq + 1
    target_uids = list(range(target.uidnext, target.uidnext + len(rows)))
    if move and not same_folder:
        _move_rows(connection, rows, target.id, target_uids, target_modseq)
    else:
        _insert_copies(connection, rows, target.id, target_uids, target_modseq)
        connection.execute(
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id)
            .values(used_bytes=mailbox.used_bytes + added)
        )
    connection.execute(
        update(folders)
        .where(folders.c.id == target.id)
        .values(uidnext=target.uidnext + len(rows), highestmodseq=target_modseq)
    )
    writes = [FolderWrite(target.id, target_modseq)]
    source_uids = [row["uid"] for row in rows]
    if move and same_folder:
        _, write = _expunge(connection, mailbox_id, folder_id, source_uids, only_deleted=False)
        writes += [write] if write else []
    elif move:
        source_modseq = source.highestmodseq + 1
        _record_expunged(connection, source.id, source_uids, source_modseq)
        connection.execute(
            update(folders).where(folders.c.id == source.id).values(highestmodseq=source_modseq)
        )
        writes.append(FolderWrite(source.id, source_modseq))
    return Copied(target.uidvalidity, tuple(source_uids), tuple(target_uids)), writes


def _source_rows(connection: Connection, folder_id: int, uids: Sequence[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for condition in _uid_conditions(uids):
        found = connection.execute(select(messages).where(messages.c.folder_id == folder_id, condition))
        rows += [dict(row) for row in found.mappings()]
    rows.sort(key=lambda row: row["uid"])
    return rows


def _insert_copies(
    connection: Connection, rows: list[dict[str, Any]], target_id: int, target_uids: list[int], modseq: int
) -> None:
    copies = []
    for row, uid in zip(rows, target_uids, strict=True):
        copy = {key: value for key, value in row.items() if key != "id"}
        copy.update(folder_id=target_id, uid=uid, modseq=modseq)
        copies.append(copy)
    connection.execute(insert(messages), copies)


def _move_rows(
    connection: Connection, rows: list[dict[str, Any]], target_id: int, target_uids: list[int], modseq: int
) -> None:
    connection.execute(
        update(messages)
        .where(messages.c.id == bindparam("row_id"))
        .values(folder_id=target_id, uid=bindparam("new_uid"), modseq=modseq),
        [{"row_id": row["id"], "new_uid": uid} for row, uid in zip(rows, target_uids, strict=True)],
    )


def _expunge(
    connection: Connection,
    mailbox_id: str,
    folder_id: int,
    uids: Sequence[int] | None,
    only_deleted: bool = True,
) -> tuple[list[int], FolderWrite | None]:
    _lock_mailbox(connection, mailbox_id)
    folder = _lock_folder_by_id(connection, mailbox_id, folder_id)
    conditions: list[ColumnElement[bool]] = [messages.c.folder_id == folder_id]
    if only_deleted:
        conditions.append(messages.c.flags.contains(DELETED, autoescape=True))
    candidates: list[Any] = []
    for condition in [None] if uids is None else list(_uid_conditions(uids)):
        where = conditions if condition is None else [*conditions, condition]
        candidates += connection.execute(
            select(messages.c.id, messages.c.uid, messages.c.raw_id, messages.c.size, messages.c.flags).where(
                *where
            )
        ).all()
    doomed = [row for row in candidates if not only_deleted or DELETED in row.flags.split()]
    if not doomed:
        return [], None
    modseq = folder.highestmodseq + 1
    _remove(
        connection,
        mailbox_id,
        [r.id for r in doomed],
        {r.raw_id for r in doomed},
        sum(r.size for r in doomed),
    )
    expunged = sorted(row.uid for row in doomed)
    _record_expunged(connection, folder_id, expunged, modseq, {row.uid: row.flags for row in doomed})
    connection.execute(update(folders).where(folders.c.id == folder_id).values(highestmodseq=modseq))
    return expunged, FolderWrite(folder_id, modseq)


def _remove(
    connection: Connection, mailbox_id: str, row_ids: list[int], raw_ids: set[str], size: int
) -> None:
    """Delete message rows, the raw bytes no other row shares, and give their size back to the quota."""
    for start in range(0, len(row_ids), _CHUNK):
        connection.execute(delete(messages).where(messages.c.id.in_(row_ids[start : start + _CHUNK])))
    ordered = sorted(raw_ids)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        still_used = select(messages.c.id).where(messages.c.raw_id == message_raw.c.id).exists()
        connection.execute(delete(message_raw).where(message_raw.c.id.in_(chunk), not_(still_used)))
    if size:
        connection.execute(
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id)
            .values(used_bytes=mailboxes.c.used_bytes - size)
        )


def _record_expunged(
    connection: Connection, folder_id: int, uids: list[int], modseq: int, flags: dict[int, str] | None = None
) -> None:
    """`flags`: what EXPUNGE removed the messages with, for sessions that still show them."""
    known = flags or {}
    if uids:
        connection.execute(
            insert(expunged_messages),
            [{"folder_id": folder_id, "uid": uid, "modseq": modseq, "flags": known.get(uid)} for uid in uids],
        )


def _names(connection: Connection, mailbox_id: str) -> set[str]:
    return set(connection.execute(select(folders.c.name).where(folders.c.mailbox_id == mailbox_id)).scalars())


def _lock_mailbox(connection: Connection, mailbox_id: str) -> Any:
    return connection.execute(
        select(mailboxes.c.id, mailboxes.c.quota_bytes, mailboxes.c.used_bytes)
        .where(mailboxes.c.id == mailbox_id)
        .with_for_update()
    ).one()


def _lock_folder_by_name(connection: Connection, mailbox_id: str, name: str) -> Any:
    return _lock_folder(connection, mailbox_id, folders.c.name == name, f"no folder named {name}")


def _lock_folder_by_id(connection: Connection, mailbox_id: str, folder_id: int) -> Any:
    return _lock_folder(
        connection, mailbox_id, folders.c.id == folder_id, "the selected folder no longer exists"
    )


def _lock_folder(
    connection: Connection, mailbox_id: str, condition: ColumnElement[bool], missing: str
) -> Any:
    folder = connection.execute(
        select(folders).where(folders.c.mailbox_id == mailbox_id, condition).with_for_update()
    ).first()
    if folder is None:
        raise FolderNotFound(missing)
    return folder
