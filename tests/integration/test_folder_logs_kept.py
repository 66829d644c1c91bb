"""On PostgreSQL a node keeps what it knows of its folders' changes (`folder_logs.py`): a change made by
one of its sessions is told to the others without a read; one made elsewhere once its event is heard; a
poll always reads; and while the node does not hear every event, nothing kept is used. Two real nodes
on one database, their event buses listening."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from mailservice.adapters.db import mail_folders, message_changes
from mailservice.adapters.db.folder_reads import CHANGES, KEPT_OPEN
from mailservice.adapters.db.tables import folders, message_raw
from mailservice.adapters.events.postgres import PostgresEventBus
from mailservice.adapters.events.subscription import QueueSubscription
from mailservice.bootstrap import Runtime
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import FolderNotFound, StorageUnavailable
from mailservice.domain.mail_session import FlagChange, FolderChanges, MailSession, MessageMeta
from mailservice.domain.messages import RECENT, FolderChanged, Resync
from tests.integration.test_event_bus import terminate
from tests.integration.test_write_locks import (
    a_write_holding_the_folder,
    another_writer_sets_flags,
    changed_while_the_folder_is_held,
    counted_reads,
    counted_writes,
    message,
    paid_mailbox,
    running_nodes,
    sessions_of,
    stored_flags,
)

DELETED = frozenset({"\\Deleted"})


@pytest.fixture
async def nodes(database_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[list[Runtime]]:
    async with running_nodes(database_dsn, tmp_path, clock) as started:  # listening, as built
        if started[0].database.engine.dialect.name == "sqlite":
            pytest.skip("SQLite reads the changes on the event loop in microseconds: nothing is kept")
        yield started


async def changes_reads(
    node: Runtime, session: MailSession, folder_id: int, since: int
) -> tuple[FolderChanges, int]:
    """What `session` is told since `since`, and how many `CHANGES` statements that took."""
    with counted_reads(node) as reads:
        told = await session.changes(folder_id, since)
    return told, sum(1 for statement in reads if statement is CHANGES)


async def polled_reads(
    node: Runtime, session: MailSession, folder_id: int, since: int
) -> tuple[FolderChanges, int]:
    """`changes_reads` as a poll (NOOP, CHECK, IDLE) asks, which always reads."""
    session.begin_command(polls=True)
    return await changes_reads(node, session, folder_id, since)


async def kept_by_a_read(session: MailSession, folder: str) -> tuple[int, int]:
    """`session` selects `folder` and reads its changes once, as after a first command: the node keeps
    them. Its id and the modseq the session knows."""
    opened = await session.open(folder)
    known = opened.status.highestmodseq
    await session.changes(opened.status.folder_id, known)
    return opened.status.folder_id, known


async def heard(subscription: QueueSubscription, modseq: int) -> None:
    """Until the node has heard of a folder change that took some folder to `modseq` (the node's folder
    logs hear each event before its subscribers)."""
    async with asyncio.timeout(10):
        async for signal in subscription:
            if isinstance(signal, FolderChanged) and signal.modseq >= modseq:
                return


async def test_a_change_by_a_session_of_the_node_is_told_to_the_others_as_a_read_would_without_one(
    nodes: list[Runtime],
) -> None:
    writer, reader = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    kept = await writer.append("INBOX", message("kept"), frozenset(), None)
    gone = await writer.append("INBOX", message("gone"), frozenset(), None)
    inbox, known = await kept_by_a_read(reader, "INBOX")

    await writer.store_flags(inbox, [kept.uid], FlagChange.ADD, frozenset({"$Told"}))
    await writer.store_flags(inbox, [gone.uid], FlagChange.ADD, DELETED)
    await writer.expunge(inbox)
    told, reads = await changes_reads(nodes[0], reader, inbox, known)

    assert reads == 0
    assert {meta.uid: meta.flags for meta in told.changed} == {kept.uid: frozenset({"$Told"})}
    assert told.expunged == (gone.uid,)
    assert told.last_flags == ((gone.uid, DELETED),)
    polled, reads = await polled_reads(nodes[0], reader, inbox, known)
    assert reads == 1, "a poll reads"
    assert polled == told


async def test_an_append_is_told_to_the_sessions_of_the_node_as_a_read_would_without_one(
    nodes: list[Runtime],
) -> None:
    appender, other = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    inbox, known = await kept_by_a_read(other, "INBOX")
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-5)))
    appended = await appender.append("INBOX", message("mine"), frozenset({"$Mine", "\\Seen"}), moment)

    for session in (appender, other):
        told, reads = await changes_reads(nodes[0], session, inbox, known)
        assert reads == 0
        assert [meta.uid for meta in told.changed] == [appended.uid]
        assert told.uidnext == appended.uid + 1
        polled, _ = await polled_reads(nodes[0], session, inbox, known)
        assert polled == told


async def test_a_copy_is_told_to_the_sessions_of_its_target_as_a_read_would_without_one(
    nodes: list[Runtime],
) -> None:
    copier, reader = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    await copier.create_folder("Work")
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    uids = [
        (await copier.append("INBOX", message(subject), frozenset({"$C"}), moment)).uid for subject in "ab"
    ]
    inbox = (await copier.open("INBOX")).status.folder_id
    work, known = await kept_by_a_read(reader, "Work")

    copied = await copier.copy(inbox, uids, "Work")
    told, reads = await changes_reads(nodes[0], reader, work, known)

    assert reads == 0
    assert len(copied.target_uids) == 2
    assert [meta.uid for meta in told.changed] == list(copied.target_uids)
    polled, _ = await polled_reads(nodes[0], reader, work, known)
    assert polled == told


async def test_a_change_made_on_another_node_is_told_once_its_event_is_heard(nodes: list[Runtime]) -> None:
    details = await paid_mailbox(nodes)
    (reader,) = await sessions_of(nodes[:1], details, 1)
    (elsewhere,) = await sessions_of(nodes[1:], details, 1)
    appended = await elsewhere.append("INBOX", message("one"), frozenset(), None)
    inbox, known = await kept_by_a_read(reader, "INBOX")
    subscription = nodes[0].events.subscribe(reader.mailbox_id)  # type: ignore[attr-defined]

    await elsewhere.store_flags(inbox, [appended.uid], FlagChange.ADD, frozenset({"$Elsewhere"}))
    await heard(subscription, known + 1)
    told, reads = await changes_reads(nodes[0], reader, inbox, known)

    assert reads == 1
    assert {meta.uid: meta.flags for meta in told.changed} == {appended.uid: frozenset({"$Elsewhere"})}
    _, reads = await changes_reads(nodes[0], reader, inbox, known)
    assert reads == 0, "that read is kept"
    subscription.close()


async def test_a_folder_deleted_on_another_node_is_found_gone_once_heard(nodes: list[Runtime]) -> None:
    details = await paid_mailbox(nodes)
    (reader,) = await sessions_of(nodes[:1], details, 1)
    (elsewhere,) = await sessions_of(nodes[1:], details, 1)
    await elsewhere.create_folder("Work")
    work, known = await kept_by_a_read(reader, "Work")
    subscription = nodes[0].events.subscribe(reader.mailbox_id)  # type: ignore[attr-defined]

    await elsewhere.delete_folder("Work")
    await heard(subscription, known + 1)
    with pytest.raises(FolderNotFound):
        await reader.changes(work, known)
    subscription.close()


async def test_a_folder_deleted_on_the_node_is_found_gone_at_once(nodes: list[Runtime]) -> None:
    reader, deleter = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    await deleter.create_folder("Work")
    work, known = await kept_by_a_read(reader, "Work")
    await deleter.delete_folder("Work")
    with pytest.raises(FolderNotFound):
        await reader.changes(work, known)


async def test_while_the_node_does_not_hear_every_event_every_ask_reads(nodes: list[Runtime]) -> None:
    (reader,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    inbox, known = await kept_by_a_read(reader, "INBOX")
    _, reads = await changes_reads(nodes[0], reader, inbox, known)
    assert reads == 0

    await nodes[0].events.close()  # its listener gone: a change elsewhere would go unheard
    assert not nodes[0].events.listening()
    _, reads = await changes_reads(nodes[0], reader, inbox, known)
    assert reads == 1


@contextmanager
def failing_after(node: Runtime, statement: object) -> Iterator[None]:
    """`statement`, written through `node`'s pool, is run and committed, and then raises, as when its
    answer is lost."""
    database = node.database
    original = database.write_statement

    async def lost(written: Any, parameters: Any) -> list[Any]:
        rows = await original(written, parameters)
        if written is statement:
            raise ConnectionResetError("the answer was lost")
        return rows

    database.write_statement = lost  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        del database.write_statement


async def test_a_store_whose_answer_is_lost_is_read_by_the_other_sessions_of_the_node(
    nodes: list[Runtime],
) -> None:
    writer, reader = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    appended = await writer.append("INBOX", message("one"), frozenset(), None)
    inbox, known = await kept_by_a_read(reader, "INBOX")

    with (
        failing_after(nodes[0], message_changes.WRITE_FLAGS_IN_ONE_STATEMENT),
        pytest.raises(ConnectionResetError),
    ):
        await writer.store_flags(inbox, [appended.uid], FlagChange.ADD, frozenset({"$Lost"}))
    told, reads = await changes_reads(nodes[0], reader, inbox, known)

    assert reads == 1
    assert {meta.uid: meta.flags for meta in told.changed} == {appended.uid: frozenset({"$Lost"})}


async def test_an_expunge_of_a_folder_the_node_knows_is_one_statement_and_told_without_a_read(
    nodes: list[Runtime],
) -> None:
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    inbox, known = await kept_by_a_read(session, "INBOX")
    doomed = await session.append("INBOX", message("doomed"), DELETED, None)
    kept = await session.append("INBOX", message("kept"), frozenset(), None)

    with counted_reads(nodes[0]) as reads, counted_writes(nodes[0]) as writes:
        assert await session.expunge(inbox, None, changes_since=known) == [doomed.uid]
        told = await session.changes(inbox, known)
        await settled(nodes[0])

    assert reads == []
    assert writes[0] is message_changes.EXPUNGE_FLAGGED_IN_ONE_STATEMENT
    assert message_changes.EXPUNGE_IN_ONE_STATEMENT not in writes
    assert told.expunged == (doomed.uid,)
    assert [meta.uid for meta in told.changed] == [kept.uid]
    polled, _ = await polled_reads(nodes[0], session, inbox, known)
    assert polled == told


async def test_an_expunge_in_one_statement_removes_a_message_flagged_by_a_write_not_heard_of(
    nodes: list[Runtime],
) -> None:
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    inbox, known = await kept_by_a_read(session, "INBOX")
    unheard = await session.append("INBOX", message("flagged elsewhere"), frozenset(), None)
    kept = await session.append("INBOX", message("kept"), frozenset(), None)
    async with nodes[1].database.engine.begin() as elsewhere:  # committed, no event sent
        await elsewhere.run_sync(lambda c: another_writer_sets_flags(c, inbox, unheard.uid, "\\Deleted"))

    with counted_writes(nodes[0]) as writes:
        assert await session.expunge(inbox, None, changes_since=known) == [unheard.uid]
        told = await session.changes(inbox, known)
        await settled(nodes[0])

    assert writes[0] is message_changes.EXPUNGE_FLAGGED_IN_ONE_STATEMENT
    assert told.expunged == (unheard.uid,)
    assert await stored_flags(nodes[0], inbox) == {kept.uid: ""}


async def test_an_expunge_in_one_statement_with_nothing_flagged_takes_no_lock(nodes: list[Runtime]) -> None:
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    inbox, known = await kept_by_a_read(session, "INBOX")
    kept = await session.append("INBOX", message("kept"), frozenset({"\\Seen"}), None)

    with counted_writes(nodes[0]) as writes:
        async with nodes[1].database.engine.begin() as held:
            await held.run_sync(lambda c: a_write_holding_the_folder(c, inbox))
            assert await asyncio.wait_for(session.expunge(inbox, [kept.uid], changes_since=known), 10) == []
            assert await asyncio.wait_for(session.expunge(inbox, None, changes_since=known), 10) == []
    assert writes == [message_changes.EXPUNGE_FLAGGED_IN_ONE_STATEMENT] * 2
    assert await stored_flags(nodes[0], inbox) == {kept.uid: "\\Seen"}


async def expunged_while_unflagged_elsewhere(
    nodes: list[Runtime], session: MailSession, inbox: int, known: int, spared: int
) -> tuple[list[int], list[object]]:
    """An EXPUNGE by `session` (node 0) waiting for the folder while node 1 takes \\Deleted off `spared`:
    what it expunged, and the statements node 0 wrote for it (its raw deletes settled)."""
    with counted_writes(nodes[0]) as writes:
        expunged, _ = await changed_while_the_folder_is_held(
            nodes[1],
            inbox,
            session.expunge(inbox, None, changes_since=known),
            lambda held: held.run_sync(lambda c: another_writer_sets_flags(c, inbox, spared, "")),
        )
        await settled(nodes[0])
    return expunged, writes


async def test_an_expunge_in_one_statement_keeps_what_was_unflagged_while_it_waited(
    nodes: list[Runtime],
) -> None:
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    inbox, known = await kept_by_a_read(session, "INBOX")
    doomed = await session.append("INBOX", message("doomed"), DELETED, None)
    spared = await session.append("INBOX", message("spared"), DELETED, None)

    expunged, writes = await expunged_while_unflagged_elsewhere(nodes, session, inbox, known, spared.uid)

    assert writes[0] is message_changes.EXPUNGE_FLAGGED_IN_ONE_STATEMENT
    assert expunged == [doomed.uid]
    assert await stored_flags(nodes[0], inbox) == {spared.uid: ""}


async def test_an_expunge_in_one_statement_beaten_to_its_messages_leaves_the_nodes_knowledge_usable(
    nodes: list[Runtime],
) -> None:
    """It found a message flagged, and by the time it held the folder another writer had unflagged it:
    nothing went. The modseq it tells is the folder's as committed, so one read brings the node up to
    date and the next ask needs none."""
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    inbox, known = await kept_by_a_read(session, "INBOX")
    spared = await session.append("INBOX", message("spared"), DELETED, None)

    expunged, writes = await expunged_while_unflagged_elsewhere(nodes, session, inbox, known, spared.uid)

    assert writes == [message_changes.EXPUNGE_FLAGGED_IN_ONE_STATEMENT]
    assert expunged == []
    told, reads = await changes_reads(nodes[0], session, inbox, known)
    assert reads == 1, "the unflagging was not heard of: read"
    assert {meta.uid: meta.flags for meta in told.changed} == {spared.uid: frozenset()}
    _, reads = await changes_reads(nodes[0], session, inbox, known)
    assert reads == 0, "that read is kept"


async def test_an_expunge_in_one_statement_of_a_folder_that_goes_while_it_waits_is_told_as_gone(
    nodes: list[Runtime],
) -> None:
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    await session.create_folder("Work")
    work, known = await kept_by_a_read(session, "Work")
    await session.append("Work", message("doomed"), DELETED, None)

    with pytest.raises(FolderNotFound):
        await changed_while_the_folder_is_held(
            nodes[1],
            work,
            session.expunge(work, None, changes_since=known),
            lambda held: held.execute(delete(folders).where(folders.c.id == work)),
        )


async def test_an_expunge_in_one_statement_of_a_folder_gone_is_told_as_gone(nodes: list[Runtime]) -> None:
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    await session.create_folder("Work")
    work, known = await kept_by_a_read(session, "Work")
    async with nodes[1].database.engine.begin() as elsewhere:  # gone, unheard
        await elsewhere.execute(delete(folders).where(folders.c.id == work))

    with pytest.raises(FolderNotFound):
        await session.expunge(work, None, changes_since=known)


async def test_an_expunge_whose_raw_messages_fail_to_go_is_answered_and_told_to_the_other_sessions(
    nodes: list[Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    writer, reader = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    appended = await writer.append("INBOX", message("gone"), DELETED, None)
    inbox, known = await kept_by_a_read(reader, "INBOX")

    with failing_after(nodes[0], message_changes.DELETE_UNSHARED_RAWS):
        assert await writer.expunge(inbox) == [appended.uid]
        await settled(nodes[0])
    told, reads = await changes_reads(nodes[0], reader, inbox, known)

    assert reads == 0, "the expunge was told before the raw messages were to go"
    assert told.expunged == (appended.uid,)
    assert "imap.raw_delete_failed" in caplog.text


async def test_an_expunge_is_answered_before_its_raw_messages_go(nodes: list[Runtime]) -> None:
    (writer,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    appended = await writer.append("INBOX", message("gone"), DELETED, None)
    inbox = (await writer.status("INBOX")).folder_id
    database = nodes[0].database
    original = database.write_statement
    deleting, go_on = asyncio.Event(), asyncio.Event()

    async def held(written: Any, parameters: Any) -> list[Any]:
        if written is message_changes.DELETE_UNSHARED_RAWS:
            deleting.set()
            await go_on.wait()
        return await original(written, parameters)

    database.write_statement = held  # type: ignore[method-assign,assignment]
    try:
        assert await asyncio.wait_for(writer.expunge(inbox), 10) == [appended.uid]
        await asyncio.wait_for(deleting.wait(), 10)
        assert await raw_count(nodes[0]) == 1, "the raw message goes after the answer"
        go_on.set()
        await settled(nodes[0])
    finally:
        go_on.set()  # a failure above must not leave the delete waiting (shutdown waits for it)
        del database.write_statement
    assert await raw_count(nodes[0]) == 0


async def test_an_expunge_waits_for_its_raw_messages_while_too_many_deletes_are_under_way(
    nodes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail_folders, "RAW_DELETES_QUEUED", 1)
    (writer,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    first = await writer.append("INBOX", message("first"), DELETED, None)
    inbox = (await writer.status("INBOX")).folder_id
    database = nodes[0].database
    original = database.write_statement
    started: list[asyncio.Event] = [asyncio.Event(), asyncio.Event()]
    go_on = asyncio.Event()

    async def held(written: Any, parameters: Any) -> list[Any]:
        if written is message_changes.DELETE_UNSHARED_RAWS:
            next(event for event in started if not event.is_set()).set()
            await go_on.wait()
        return await original(written, parameters)

    database.write_statement = held  # type: ignore[method-assign,assignment]
    try:
        assert await asyncio.wait_for(writer.expunge(inbox), 10) == [first.uid], "one under way: answered"
        second = await writer.append("INBOX", message("second"), DELETED, None)
        expunging = asyncio.create_task(writer.expunge(inbox))
        await asyncio.wait_for(started[1].wait(), 10)
        # Its delete runs only once the EXPUNGE has given the loop up: answered, or waiting for it.
        assert not expunging.done(), "two under way: the second waits for its own delete"
        go_on.set()
        assert await asyncio.wait_for(expunging, 10) == [second.uid]
        await settled(nodes[0])
    finally:
        go_on.set()
        del database.write_statement
    assert await raw_count(nodes[0]) == 0


async def settled(node: Runtime) -> None:
    assert node.mail_folders is not None
    await node.mail_folders.settle()


async def raw_count(node: Runtime) -> int:
    async with node.database.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(message_raw))).scalar_one())


async def test_an_append_whose_outcome_is_unknown_is_read_by_the_other_sessions_of_the_node(
    nodes: list[Runtime],
) -> None:
    appender, reader = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    inbox, known = await kept_by_a_read(reader, "INBOX")
    original = nodes[0].database.run_write

    async def lost(*arguments: Any, **named: Any) -> Any:
        await original(*arguments, **named)
        raise ConnectionResetError("the answer was lost")

    nodes[0].database.run_write = lost  # type: ignore[method-assign]
    try:
        with pytest.raises(StorageUnavailable):
            await appender.append("INBOX", message("unsure"), frozenset(), None)
    finally:
        del nodes[0].database.run_write
    told, reads = await changes_reads(nodes[0], reader, inbox, known)

    assert reads == 1
    assert len(told.changed) == 1


async def test_a_store_of_two_rounds_is_read_by_the_other_sessions_of_the_node(nodes: list[Runtime]) -> None:
    """Another writer changed the message between the STORE's read and its write (no event of it heard
    yet): the STORE writes again, and what the node keeps is not vouched for past its first write."""
    writer, reader = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    appended = await writer.append("INBOX", message("twice"), frozenset(), None)
    inbox, known = await kept_by_a_read(reader, "INBOX")

    await changed_while_the_folder_is_held(
        nodes[0],
        inbox,
        writer.store_flags(inbox, [appended.uid], FlagChange.ADD, frozenset({"\\Seen"})),
        lambda held: held.run_sync(lambda c: another_writer_sets_flags(c, inbox, appended.uid, "$Urgent")),
    )
    told, reads = await changes_reads(nodes[0], reader, inbox, known)

    assert reads == 1
    assert {meta.uid: meta.flags for meta in told.changed} == {appended.uid: frozenset({"$Urgent", "\\Seen"})}


async def known_as_read(session: MailSession, folder_id: int) -> dict[int, MessageMeta]:
    """The folder's messages as a session's view knows them after SELECT."""
    return {meta.uid: meta for meta in (await session.changes(folder_id, 0)).changed}


async def a_message_whose_id_is_not_its_uid(session: MailSession, flags: frozenset[str] = frozenset()) -> int:
    """The uid of a new INBOX message whose row id differs from it (a message of another folder first)."""
    await session.create_folder("Other")
    await session.append("Other", message("other"), frozenset(), None)
    return (await session.append("INBOX", message("one"), flags, None)).uid


async def test_a_store_of_messages_known_writes_without_a_read(nodes: list[Runtime]) -> None:
    writer, reader = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    uid = await a_message_whose_id_is_not_its_uid(writer)
    inbox, known = await kept_by_a_read(writer, "INBOX")
    metas = await known_as_read(writer, inbox)
    metas[uid] = metas[uid]._replace(flags=metas[uid].flags | {RECENT})  # as a view shows it
    _, reader_known = await kept_by_a_read(reader, "INBOX")

    with counted_reads(nodes[0]) as reads:
        stored = await writer.store_flags(
            inbox, [uid, uid], FlagChange.ADD, frozenset({"$Mine"}), changes_since=known, known=metas
        )
        told = await reader.changes(inbox, reader_known)

    assert reads == []
    assert [meta.flags for meta in stored.updated] == [frozenset({"$Mine"})]
    assert await stored_flags(nodes[0], inbox) == {uid: "$Mine"}, "\\Recent is the view's own"
    assert [meta.flags for meta in told.changed] == [frozenset({"$Mine"})]


@dataclass(frozen=True)
class KnownMessage:
    """An INBOX message as a session knows it after SELECT, the folder's changes kept by its node."""

    session: MailSession
    uid: int
    inbox: int
    known: int
    """The session's HIGHESTMODSEQ."""
    metas: dict[int, MessageMeta]


async def a_known_message(nodes: list[Runtime]) -> KnownMessage:
    (session,) = await sessions_of(nodes[:1], await paid_mailbox(nodes), 1)
    uid = await a_message_whose_id_is_not_its_uid(session)
    inbox, known = await kept_by_a_read(session, "INBOX")
    return KnownMessage(session, uid, inbox, known, await known_as_read(session, inbox))


async def changed_unheard(node: Runtime, folder_id: int, uid: int, flags: str) -> None:
    """Another writer gives the message `flags` (and a new modseq), and no event of it is sent."""
    async with node.database.engine.begin() as connection:
        await connection.run_sync(lambda c: another_writer_sets_flags(c, folder_id, uid, flags))


async def test_a_store_of_a_message_changed_unheard_edits_it_as_it_is_now(nodes: list[Runtime]) -> None:
    """Another writer changed the message and nothing of it was heard: the write, made only at the
    modseq the message was known at, writes nothing; the message is read and edited again."""
    target = await a_known_message(nodes)
    inbox, uid = target.inbox, target.uid
    await changed_unheard(nodes[0], inbox, uid, "$Elsewhere")

    with counted_reads(nodes[0]) as reads:
        stored = await target.session.store_flags(
            inbox,
            [uid],
            FlagChange.ADD,
            frozenset({"$Mine"}),
            changes_since=target.known,
            known=target.metas,
        )

    assert reads == [message_changes.STORE_ROWS.in_array], "known, then read again after the write"
    assert [meta.flags for meta in stored.updated] == [frozenset({"$Elsewhere", "$Mine"})]
    assert await stored_flags(nodes[0], inbox) == {uid: "$Elsewhere $Mine"}


async def test_a_store_that_what_is_known_says_changes_nothing_reads(nodes: list[Runtime]) -> None:
    """Known without `$Set`, which another writer set unheard: -FLAGS would change nothing as known, so
    the message is read, and the flag removed."""
    target = await a_known_message(nodes)
    inbox, uid = target.inbox, target.uid
    await changed_unheard(nodes[0], inbox, uid, "$Set")

    with counted_reads(nodes[0]) as reads:
        await target.session.store_flags(
            inbox,
            [uid],
            FlagChange.REMOVE,
            frozenset({"$Set"}),
            changes_since=target.known,
            known=target.metas,
        )

    assert len(reads) == 1
    assert await stored_flags(nodes[0], inbox) == {uid: ""}


async def test_a_store_with_unchangedsince_or_of_an_unknown_message_reads(nodes: list[Runtime]) -> None:
    target = await a_known_message(nodes)

    # the first STORE took known + 1
    for unchanged_since, told in ((None, {}), (target.known + 1, target.metas)):
        with counted_reads(nodes[0]) as reads:
            await target.session.store_flags(
                target.inbox,
                [target.uid],
                FlagChange.ADD,
                frozenset({f"$K{len(told)}"}),
                unchanged_since,
                target.known,
                known=told,
            )
        assert len(reads) == 1


async def test_after_the_listener_was_away_select_reads_the_folder_whole(nodes: list[Runtime]) -> None:
    """A node that may have missed events drops its folder snapshots too: the database may have
    restarted meanwhile and lost writes a snapshot had seen."""
    node, details = nodes[0], await paid_mailbox(nodes)
    (session,) = await sessions_of([node], details, 1)
    await session.append("INBOX", message("kept"), frozenset(), None)
    await session.open("INBOX")
    with counted_reads(node) as reads:
        await session.open("INBOX")
    assert KEPT_OPEN in reads, "kept: opened from its snapshot"
    subscription = node.events.subscribe(str(details["mailbox_id"]))
    assert isinstance(node.events, PostgresEventBus)

    await terminate(node.settings.database_dsn, node.events.listener_pid())
    async with asyncio.timeout(10):
        async for signal in subscription:
            if isinstance(signal, Resync):
                break

    with counted_reads(node) as reads:
        reopened = await session.open("INBOX")
    assert KEPT_OPEN not in reads and [meta.uid for meta in reopened.messages] == [1]
