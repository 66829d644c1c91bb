"""The message store's write path: deliveries are written in groups, one durable commit per group.

Callers wait on `store()` until their delivery is committed, so an SMTP 250 still means "on disk"; while one
commit is being made durable, new deliveries queue up and share the next commit. A group that fails as a
whole is retried one delivery at a time, so one bad message cannot make the others fail. The
`message.received` events of a group are published together, once, after its commit, by a task of their
own: the next group is written without waiting for the event bus.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, String, bindparam, column, func, select, text
from sqlalchemy.engine import Connection

from mailservice.adapters.db import prepared
from mailservice.adapters.db.append_statement import (
    FIELD_KEYS,
    RAW_KEYS,
    append_parameters,
    append_statement,
    append_written,
    appended_in_one_statement,
    raw_rows,
)
from mailservice.adapters.db.database import Database, refused_before_commit
from mailservice.adapters.db.dsn import is_sqlite
from mailservice.adapters.db.event_log import append_events, message_received
from mailservice.adapters.db.folder_appends import FolderAppends, not_stored
from mailservice.adapters.db.folders import new_folder
from mailservice.adapters.db.message_changes import (
    ADVANCE_FOLDERS,
    FolderCounters,
    count_added_bytes,
    lock_whole_mailboxes,
    quota_before,
)
from mailservice.adapters.db.prepared import Prepared, insert_rows, unnested, unnested_values
from mailservice.adapters.db.retention import SqlRetention
from mailservice.adapters.db.sort_keys import sort_key_columns
from mailservice.adapters.db.tables import folders, header_fields, mailboxes, message_raw, messages
from mailservice.adapters.events.publish_queue import PublishQueue
from mailservice.adapters.futures import answer
from mailservice.domain.agent_events import AgentEvent
from mailservice.domain.errors import DomainError, FolderNotFound, MailboxFull, StorageUnavailable
from mailservice.domain.events import DomainEvent, WebhookQueued
from mailservice.domain.messages import Delivery, FolderChanged, MessageCopy, MessageReceived, StoredCopy
from mailservice.domain.quota import Quota
from mailservice.ports import Clock, EventPublisher

log = logging.getLogger(__name__)

MAX_GROUP = 256
WRITER_STOP_SECONDS = 5.0
"""How long `close` lets the writer finish what is queued before cancelling it (within the shutdown's
own bound, `SHUTDOWN_GRACE_SECONDS`)."""
STREAM_ABOVE = 1024 * 1024
STREAM_BLOCK = 256 * 1024

# Built once: constructing a statement costs more than running it for a group of small messages.
_QUOTAS = select(mailboxes.c.id, mailboxes.c.quota_bytes, mailboxes.c.used_bytes).order_by(mailboxes.c.id)
_READ_QUOTAS = _QUOTAS.where(mailboxes.c.id.in_(bindparam("ids", expanding=True)))
_LOCK_QUOTAS = _READ_QUOTAS.with_for_update(key_share=True)
_LOCK_FOLDERS = (
    select(
        folders.c.id,
        folders.c.mailbox_id,
        folders.c.name,
        folders.c.uidnext,
        folders.c.highestmodseq,
        folders.c.uidvalidity,
    )
    .where(
        folders.c.mailbox_id.in_(bindparam("ids", expanding=True)),
        folders.c.name.in_(bindparam("names", expanding=True)),
    )
    .order_by(folders.c.id)
    .with_for_update(key_share=True)
)
"""The folders a group writes to (and at most a few more of the same names), in id order: a delivery
to INBOX does not wait for, nor hold up, a flag change in another folder of the mailbox."""
# The usual group (one mailbox, one folder) with prepared statements: an expanding IN list is compiled
# again for every use.
_READ_QUOTA = Prepared(_QUOTAS.where(mailboxes.c.id == bindparam("id")))
_LOCK_QUOTA = Prepared(_QUOTAS.where(mailboxes.c.id == bindparam("id")).with_for_update(key_share=True))
_LOCK_FOLDER = Prepared(
    select(*_LOCK_FOLDERS.selected_columns)
    .where(folders.c.mailbox_id == bindparam("id"), folders.c.name == bindparam("name"))
    .with_for_update(key_share=True)
)


@dataclass
class _Pending:
    delivery: Delivery
    future: asyncio.Future[list[StoredCopy]]


@dataclass
class _Group:
    """What one commit writes, built in memory before any statement runs."""

    now: datetime
    quotas: dict[str, Quota]
    folder_states: dict[tuple[str, str], FolderCounters]
    message_rows: list[dict[str, Any]] = field(default_factory=list)
    raw_rows: list[dict[str, Any]] = field(default_factory=list)
    field_rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[AgentEvent] = field(default_factory=list)
    touched_folders: set[tuple[str, str]] = field(default_factory=set)
    added_bytes: dict[str, int] = field(default_factory=dict)
    """Per mailbox."""
    webhooks_queued: bool = False


_Outcomes = list[list[StoredCopy] | DomainError]


class _LocksNeeded(Exception):
    """A group must be written again with its mailboxes locked first (see `_write_group`)."""


class GroupCommitMessageStore:
    """`retention`, when given, makes room in a full mailbox whose policy allows it, in the same
    transaction as the delivery that needs it."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        default_quota_bytes: int,
        publisher: EventPublisher,
        retention: SqlRetention | None = None,
    ) -> None:
        self._database = database
        self._retention = retention
        self._clock = clock
        self._announcements = PublishQueue(publisher)
        self._default_quota = default_quota_bytes
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._stopped = False
        """Set once `close` has stopped taking writes: the writers end with what they have."""
        self._committing: list[_Pending] = []
        """The group the writer is committing."""
        self._appends_in_one_statement = not is_sqlite(database.url)
        self._folder_appends = FolderAppends(self._write_append)
        self._appends_under_way = 0
        """Callers of `store` waiting for `FolderAppends`: one answered None queues its delivery for the
        group writer when it next runs, which `close` waits for."""

    async def store(self, delivery: Delivery) -> list[StoredCopy]:
        """Return once the delivery is durably committed; raise MailboxFull or StorageUnavailable."""
        if self._closing:
            raise StorageUnavailable("the store is shutting down")
        if self._appends_in_one_statement and appended_in_one_statement(delivery):
            self._appends_under_way += 1
            try:
                stored = await self._folder_appends.append(delivery)
            finally:
                self._appends_under_way -= 1
            if stored is not None:
                return stored
        self._ensure_writer()
        future: asyncio.Future[list[StoredCopy]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(delivery, future))
        self._wakeup.set()
        # Not shielded: a caller that goes away cancels only its wait. The delivery stays queued and is
        # written; the writer skips answering a future that is already done.
        return await future

    def appends_waiting(self, mailbox_id: str, folder: str) -> int:
        """PostgreSQL: how many APPENDs of the folder wait for the node's next statement of it."""
        return self._folder_appends.waiting(mailbox_id, folder)

    async def _write_append(self, delivery: Delivery) -> list[StoredCopy] | None:
        """PostgreSQL: `delivery` by one statement (`append_statement`), one or several APPENDs of one
        folder (`FolderAppends`); None when it wrote nothing (no such folder, no room, or the database
        refused the statement, or it could not be made), for the group path to write it."""
        try:
            keys, parameters = append_parameters(
                delivery,
                lambda copy, raw_id: _message_row(copy, 0, 0, 0, raw_id),
                self._clock.now(),
                self._default_quota,
            )
            statement = append_statement(keys)
        except Exception:  # nothing sent: the group path writes each APPEND alone
            log.exception("store.append_unprepared messages=%d", len(delivery.copies))
            return None
        try:
            found = await self._database.run_write(
                lambda connection: statement.first(connection, parameters), statements_commit_alone=True
            )
        except Exception as error:
            if refused_before_commit(error):
                log.warning("store.append_refused messages=%d", len(delivery.copies), exc_info=True)
                return None
            # Not the group path again: the commit's outcome is unknown, and the messages could be stored twice.
            log.exception("store.append_failed")
            raise not_stored() from None
        written = append_written(found, delivery.copies)
        if written is None:
            return None
        self._announcements.put(
            [*([WebhookQueued()] if written.webhooks_queued else []), *_received([written.copies])]
        )
        return written.copies

    async def close(self) -> None:
        """Commit what is queued, then stop the writer. The writer stops itself once nothing is left:
        cancelled, it could be in the middle of a commit, whose outcome would be unknown. Only writers
        still at work after `WRITER_STOP_SECONDS` (a database that does not answer) are cancelled, and
        every caller still waiting is answered `StorageUnavailable`."""
        self._closing = True
        try:
            async with asyncio.timeout(WRITER_STOP_SECONDS):
                await self._folder_appends.settle()
                while self._appends_under_way:  # noqa: ASYNC110 -- answered, each resumes within a turn or two
                    await asyncio.sleep(0)
                self._stopped = True  # every APPEND handed back to the group path is queued by now
                if self._task is not None and not self._task.done():
                    self._wakeup.set()
                    await asyncio.shield(self._task)
        except TimeoutError:
            log.error(
                "store.writer_stop_timed_out seconds=%s pending=%d", WRITER_STOP_SECONDS, len(self._pending)
            )
            await self._cut_off()
        await self._announcements.drain()

    async def _cut_off(self) -> None:
        """Every writer cancelled, and every caller of the group path answered, before anything is
        awaited (a cancel of `close` itself then leaves nobody waiting); the APPENDs are answered as
        their cancelled writers end. Their outcome is unknown, as when the process ends: a write
        already handed to the database may still commit."""
        self._stopped = True
        writer = self._task
        if writer is not None:
            writer.cancel()
        left, self._pending = [*self._committing, *self._pending], []
        for pending in left:
            answer(pending.future, not_stored())
        await self._folder_appends.cut_off()
        if writer is not None:
            await asyncio.wait([writer])  # not `await`: a cancel of `close` itself is not swallowed
            if not writer.cancelled() and writer.exception() is not None:
                log.error("store.writer_failed", exc_info=writer.exception())

    def _ensure_writer(self) -> None:
        if self._stopped:  # an APPEND handed back after a close that cut the writers off
            raise StorageUnavailable("the store is shutting down")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_forever(), name="message-store-writer")

    async def _write_forever(self) -> None:
        while True:
            while self._pending:
                group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                self._committing = group
                await self._commit_group(group)
                self._committing = []
            if self._closing:
                return
            await self._wakeup.wait()
            self._wakeup.clear()

    async def _commit_group(self, group: list[_Pending]) -> None:
        announced: list[DomainEvent] = []
        try:
            outcomes, announced = await self._write(group)
        except Exception:
            if len(group) > 1:
                log.warning("store.group_failed size=%d; retrying one by one", len(group), exc_info=True)
                for pending in group:
                    await self._commit_group([pending])
                return
            log.exception("store.delivery_failed")
            outcomes = [not_stored()]
        for pending, outcome in zip(group, outcomes, strict=True):
            answer(pending.future, outcome)
        events: list[DomainEvent] = [*announced, *_received(outcomes)]
        self._announcements.put(events)

    async def _write(self, group: list[_Pending]) -> tuple[_Outcomes, list[DomainEvent]]:
        deliveries = [pending.delivery for pending in group]
        now = self._clock.now()
        try:
            return await self._database.run_group_write(
                lambda connection: self._write_group(connection, deliveries, now, locked=False)
            )
        except _LocksNeeded:
            return await self._database.run_group_write(
                lambda connection: self._write_group(connection, deliveries, now, locked=True)
            )

    def _write_group(
        self, connection: Connection, deliveries: list[Delivery], now: datetime, locked: bool
    ) -> tuple[_Outcomes, list[DomainEvent]]:
        """Runs blocking, in one transaction: read the quotas, lock the folders (making those to be
        made), plan every delivery, write, and count the bytes in the mailbox rows last (the lock order
        of `message_changes`: the mailbox row is held only until the commit). Also returns the events
        to announce besides new mail (folders that retention freed room in; webhook deliveries queued).

        The quotas are read without a lock, so on PostgreSQL a writer of another folder may have taken
        the room meanwhile: counting then finds the mailbox over its quota and raises `_LocksNeeded`.
        So does a group that must make room in a full mailbox, which may delete from any of its
        folders. Such a group is written again `locked`: every folder of its mailboxes, then their
        mailbox rows, locked before it reads its quotas."""
        copies = [copy for delivery in deliveries for copy in delivery.copies]
        creating = {
            (c.mailbox_id, c.folder) for d in deliveries if not d.into_existing_folders for c in d.copies
        }
        mailbox_ids = {c.mailbox_id for c in copies}
        exact = locked or connection.dialect.name == "sqlite"  # one writer at a time there
        # The quotas are read unlocked first: every statement after the folders' locks holds them a round
        # trip longer on PostgreSQL. (Not the webhook endpoints: they are read `FOR SHARE`, and held
        # while the group waits for its folders they would hold up removing an endpoint.)
        quotas = {} if locked else self._quotas(connection, mailbox_ids, lock=False)
        if locked:
            lock_whole_mailboxes(connection, mailbox_ids)
        wanted = {(c.mailbox_id, c.folder) for c in copies}
        folder_states = _lock_folders(connection, wanted, creating, now)
        if locked:
            quotas = self._quotas(connection, mailbox_ids, lock=True)
        freed = self._make_room(connection, quotas, folder_states, deliveries, exact)
        if freed:  # their modseqs moved on
            folder_states = _select_folders(connection, wanted)
        state = _Group(now=now, quotas=quotas, folder_states=folder_states)
        outcomes = [self._plan(state, delivery) for delivery in deliveries]
        _apply(connection, state, self._default_quota, checked=not exact)
        return outcomes, [*freed, *([WebhookQueued()] if state.webhooks_queued else [])]

    def _make_room(
        self,
        connection: Connection,
        quotas: dict[str, Quota],
        folder_states: dict[tuple[str, str], FolderCounters],
        deliveries: list[Delivery],
        exact: bool,
    ) -> list[FolderChanged]:
        """Where a mailbox cannot take its deliveries and its policy allows, delete its oldest read mail;
        `quotas` is updated. Only with `exact` quotas (else `_LocksNeeded`)."""
        if self._retention is None or all(quotas[m].allows(sum(n)) for m, n in _needs(deliveries).items()):
            return []
        if not exact:
            raise _LocksNeeded
        # Only for the deliveries that can be stored: none for an APPEND that the store will refuse.
        needs = _needs(_with_their_folders(folder_states, deliveries))
        return self._retention.make_room(connection, quotas, needs)

    def _plan(self, state: _Group, delivery: Delivery) -> list[StoredCopy] | DomainError:
        needed: dict[str, int] = {}
        for copy in delivery.copies:
            if (copy.mailbox_id, copy.folder) not in state.folder_states:
                return FolderNotFound(f"no folder named {copy.folder}")
            needed[copy.mailbox_id] = needed.get(copy.mailbox_id, 0) + len(copy.raw)
        for mailbox_id, size in needed.items():
            if not state.quotas[mailbox_id].allows(size):
                return MailboxFull("mailbox is full", mailbox_id=mailbox_id)
        return [_place(state, copy) for copy in delivery.copies]

    def _quotas(self, connection: Connection, mailbox_ids: set[str], lock: bool) -> dict[str, Quota]:
        if len(mailbox_ids) == 1:
            one = _LOCK_QUOTA if lock else _READ_QUOTA
            rows = one.rows(connection, {"id": next(iter(mailbox_ids))})
        else:
            many = _LOCK_QUOTAS if lock else _READ_QUOTAS
            rows = list(connection.execute(many, {"ids": sorted(mailbox_ids)}).all())
        return {
            row.id: Quota.of_mailbox(row.quota_bytes, row.used_bytes, self._default_quota) for row in rows
        }


def _needs(deliveries: list[Delivery]) -> dict[str, list[int]]:
    """The sizes of the copies each mailbox is to take, in delivery order."""
    needs: dict[str, list[int]] = {}
    for delivery in deliveries:
        for copy in delivery.copies:
            needs.setdefault(copy.mailbox_id, []).append(len(copy.raw))
    return needs


def _with_their_folders(
    folder_states: dict[tuple[str, str], FolderCounters], deliveries: list[Delivery]
) -> list[Delivery]:
    """The deliveries whose folders exist or will be made (`folder_states`, locked): room is made for
    those only, not for an APPEND the store will refuse."""
    return [
        d
        for d in deliveries
        if not d.into_existing_folders or all((c.mailbox_id, c.folder) in folder_states for c in d.copies)
    ]


def _received(outcomes: _Outcomes) -> list[MessageReceived]:
    return [
        MessageReceived(copy.mailbox_id, copy.folder_id, copy.uid, copy.modseq)
        for outcome in outcomes
        if not isinstance(outcome, DomainError)
        for copy in outcome
    ]


def _lock_folders(
    connection: Connection, wanted: set[tuple[str, str]], creating: set[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], FolderCounters]:
    """The wanted folders, locked; those of `creating` that are missing are made first."""
    found = _select_folders(connection, wanted)
    missing = creating - found.keys()
    for mailbox_id, name in sorted(missing):
        connection.execute(new_folder(mailbox_id, name, now))
    if missing:
        found = _select_folders(connection, wanted)
    return found


def _select_folders(
    connection: Connection, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], FolderCounters]:
    mailbox_ids = sorted({mailbox_id for mailbox_id, _ in wanted})
    names = sorted({name for _, name in wanted})
    if len(wanted) == 1:
        ((mailbox_id, name),) = wanted
        rows = _LOCK_FOLDER.rows(connection, {"id": mailbox_id, "name": name})
    else:
        rows = list(connection.execute(_LOCK_FOLDERS, {"ids": mailbox_ids, "names": names}).all())
    return {
        (row.mailbox_id, row.name): FolderCounters.of_row(row)
        for row in rows
        if (row.mailbox_id, row.name) in wanted
    }


def _place(state: _Group, copy: MessageCopy) -> StoredCopy:
    key = (copy.mailbox_id, copy.folder)
    folder = state.folder_states[key]
    uid, modseq = folder.take_uid(), folder.next_modseq()
    state.quotas[copy.mailbox_id] = state.quotas[copy.mailbox_id].with_added(len(copy.raw))
    state.touched_folders.add(key)
    state.added_bytes[copy.mailbox_id] = state.added_bytes.get(copy.mailbox_id, 0) + len(copy.raw)
    raw_id = uuid.uuid4().hex
    raw_row, field_row = raw_rows(copy, raw_id)
    state.raw_rows.append(raw_row)
    state.field_rows.append(field_row)
    state.message_rows.append(_message_row(copy, folder.id, uid, modseq, raw_id))
    stored = StoredCopy(copy.mailbox_id, folder.id, uid, modseq, len(copy.raw), folder.uidvalidity)
    state.events.append(message_received(copy, stored, state.now))
    return stored


def _message_row(copy: MessageCopy, folder_id: int, uid: int, modseq: int, raw_id: str) -> dict[str, Any]:
    parsed = copy.parsed
    return {
        "mailbox_id": copy.mailbox_id,
        "folder_id": folder_id,
        "uid": uid,
        "modseq": modseq,
        "flags": " ".join(copy.flags),
        "internal_date": copy.internal_date,
        "size": len(copy.raw),
        "raw_id": raw_id,
        "header_end": parsed.header_end,
        "subject": _text(parsed.subject),
        "from_address": _text(parsed.from_address),
        "from_name": _text(parsed.from_name),
        "to_json": _json(parsed.to),
        "cc_json": _json(parsed.cc),
        "date_header": parsed.date,
        "message_id": _text(parsed.message_id),
        "envelope": parsed.envelope,
        "body": parsed.body,
        "bodystructure": parsed.bodystructure,
        "parts_json": parsed.parts_json,
        "text": _required_text(parsed.text),
        "has_attachments": parsed.has_attachments,
        "tags": _json(copy.tags),
        "codes_json": _json(_fields_of(code) for code in parsed.codes),
        "links_json": _json(_fields_of(link) for link in parsed.links),
        "envelope_from": copy.envelope_from,
        "auth_json": copy.auth.to_json() if copy.auth is not None else None,
        "verified_domain": copy.auth.verified_domain if copy.auth is not None else None,
        **sort_key_columns(parsed.sort_keys),
    }


def _apply(connection: Connection, state: _Group, default_quota: int, checked: bool) -> None:
    """Write the group; `checked`: its quotas were read unlocked, so raise `_LocksNeeded` when a
    mailbox turns out not to have had the room."""
    if not state.message_rows:
        return
    advanced = [f.written() for key, f in state.folder_states.items() if key in state.touched_folders]
    counted: dict[str, Quota | None] = {}
    if (
        connection.dialect.name == "postgresql"
        and sum(state.added_bytes.values()) <= prepared.ONE_STATEMENT_BYTES
    ):
        counted = _write_rows_in_one_statement(connection, state, advanced, default_quota)
    else:
        _insert_raw(connection, state.raw_rows)
        insert_rows(connection, header_fields, state.field_rows)
        insert_rows(connection, messages, state.message_rows)
        ADVANCE_FOLDERS.run_many(connection, advanced)
    # The mailbox rows last (their quota, the order of their events), held only until the commit.
    for mailbox_id in sorted(state.added_bytes):
        added = state.added_bytes[mailbox_id]
        if mailbox_id in counted:
            before = counted[mailbox_id]
        else:
            before = count_added_bytes(connection, mailbox_id, added, default_quota)
        if checked and (before is None or not before.allows(added)):
            raise _LocksNeeded
    state.webhooks_queued = append_events(connection, state.events, mailboxes_locked=True)


_group_statements: dict[tuple[str, ...], Prepared] = {}


def _write_rows_in_one_statement(
    connection: Connection, state: _Group, advanced: list[dict[str, int]], default_quota: int
) -> dict[str, Quota | None]:
    """PostgreSQL: the group's rows (raw messages, their header fields, messages), the folders' new
    counters and, for a group of one mailbox, its byte count, written by one statement: each statement
    is a round trip under the folders' locks, and this takes five of them down to one. A group of
    several mailboxes counts them afterwards, one by one in id order (the rows of one UPDATE are not
    locked in any given order). The quota each counted mailbox had before."""
    message_keys = tuple(state.message_rows[0])
    statement = _group_statements.get(message_keys)
    if statement is None:
        statement = _group_statements[message_keys] = _group_statement(message_keys)
    (mailbox_id, added), *others = state.added_bytes.items()
    parameters = {
        **unnested_values(state.raw_rows, RAW_KEYS, "raw_"),
        **unnested_values(state.field_rows, FIELD_KEYS, "field_"),
        **unnested_values(state.message_rows, message_keys, "message_"),
        "folder_ids": [folder["folder_id"] for folder in advanced],
        "uidnexts": [folder["new_uidnext"] for folder in advanced],
        "modseqs": [folder["new_modseq"] for folder in advanced],
        "mailbox_id": None if others else mailbox_id,
        "added": added,
    }
    counted = statement.first(connection, parameters)
    if others:
        return {}
    return {mailbox_id: None if counted is None else quota_before(counted, added, default_quota)}


def _group_statement(message_keys: tuple[str, ...]) -> Prepared:
    raw_rows, raw_parameters = unnested(message_raw, RAW_KEYS, "raw_")
    field_rows, field_parameters = unnested(header_fields, FIELD_KEYS, "field_")
    message_rows, message_parameters = unnested(messages, message_keys, "message_")
    return Prepared(
        text(
            f"""
            WITH raw AS (
                INSERT INTO message_raw ({", ".join(RAW_KEYS)}) {raw_rows}
            ), fields AS (
                INSERT INTO header_fields ({", ".join(FIELD_KEYS)}) {field_rows}
            ), added AS (
                INSERT INTO messages ({", ".join(message_keys)}) {message_rows}
            ), advanced AS (
                UPDATE folders SET uidnext = advance.uidnext, highestmodseq = advance.highestmodseq
                FROM unnest(:folder_ids, :uidnexts, :modseqs) AS advance (id, uidnext, highestmodseq)
                WHERE folders.id = advance.id
            )
            UPDATE mailboxes SET used_bytes = used_bytes + :added
            WHERE id = :mailbox_id
            RETURNING quota_bytes, used_bytes
            """
        )
        .bindparams(
            *raw_parameters,
            *field_parameters,
            *message_parameters,
            bindparam("folder_ids", type_=ARRAY(BigInteger)),
            bindparam("uidnexts", type_=ARRAY(BigInteger)),
            bindparam("modseqs", type_=ARRAY(BigInteger)),
            bindparam("mailbox_id", type_=String),
            bindparam("added", type_=BigInteger),
        )
        .columns(column("quota_bytes", BigInteger), column("used_bytes", BigInteger))
    )


def _insert_raw(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert raw messages; on SQLite a large one is streamed into its row, not bound whole.

    SQLite copies a bound value and then builds the record from it, holding a large message in memory
    twice more; writing into a zero-filled blob goes through its page cache a block at a time instead.
    """
    stream = connection.dialect.name == "sqlite"
    streamed = [row for row in rows if stream and len(row["raw"]) > STREAM_ABOVE]
    bound = [row for row in rows if not (stream and len(row["raw"]) > STREAM_ABOVE)]
    if bound:
        insert_rows(connection, message_raw, bound)
    for row in streamed:
        raw = memoryview(row["raw"])
        rowid = connection.execute(
            message_raw.insert().values(id=row["id"], raw=func.zeroblob(len(raw)))
        ).lastrowid
        with connection.connection.driver_connection.blobopen("message_raw", "raw", rowid) as blob:  # type: ignore[union-attr]
            for start in range(0, len(raw), STREAM_BLOCK):
                blob.write(raw[start : start + STREAM_BLOCK])


def _fields_of(item: Any) -> dict[str, Any]:
    """A flat dataclass as a dict (`asdict` deep-copies, which flat values do not need)."""
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


def _text(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; decoded mail sometimes does.
    return None if value is None else value.replace("\x00", "")


def _required_text(value: str) -> str:
    return value.replace("\x00", "")


def _json(value: Iterable[Any]) -> str:
    items = list(value)
    if not items:
        return "[]"
    return json.dumps(items, ensure_ascii=False).replace("\\u0000", "")
