"""Writers of one mailbox on PostgreSQL: the lock order (folder rows by id, then the mailbox row) lets a
write that waits for one folder hold up no other folder, no mix of writers deadlocks, a quota filled
from two nodes stops exactly at its limit, and a `\\Recent` claim waits for no write to its folder. A flag
change or an expunge, which reads its messages before it takes the folder's row, acts on what another
writer committed meanwhile; an expunge frees the bytes, and the raw messages no copy shares.

Every writer takes the rows of the folders it changes first, in id order, and the mailbox row (its
quota, the order of its events) last; the mailbox row is held only for the last statements before the
commit. SQLite has one writer at a time, so only the mixed load and the quota run there too.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db import message_changes, message_store, prepared
from mailservice.adapters.db.database import POSTGRES_READ_POOL
from mailservice.adapters.db.engine import POOL_SIZE
from mailservice.adapters.db.tables import folders, mailboxes, message_raw, messages, webhook_deliveries
from mailservice.adapters.message_parsing import parse_message
from mailservice.bootstrap import Runtime, build_runtime
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import FolderExists, FolderNotFound, MailboxFull, NotFound, StorageUnavailable
from mailservice.domain.mail_session import Appended, Copied, FlagChange, MailSession, NewMessage
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.messages import Delivery, MessageCopy
from mailservice.domain.search import MessageQuery
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import text_message
from tests.support.polling import until

T = TypeVar("T")
U = TypeVar("U")
QUOTA = 24_000
"""About forty of the messages below: the mixed load fills the mailbox, and the default policy then
makes room by deleting its oldest read mail inside deliveries."""
SECONDS = 6
EXPECTED = (MailboxFull, FolderNotFound, FolderExists)
"""What the mixed load may be answered: a full mailbox, a folder deleted or made by another writer."""


def message(subject: str) -> bytes:
    return text_message("writer@example.org", subject=subject, body="x" * 400).replace(b"\n", b"\r\n")


@asynccontextmanager
async def running_nodes(
    database_dsn: str, tmp_path: Path, clock: FixedClock, **overrides: Any
) -> AsyncIterator[list[Runtime]]:
    """Two nodes on one database, with the settings `overrides`."""
    settings = [make_settings(database_dsn, tmp_path / name, **overrides) for name in "ab"]
    nodes = [await build_runtime(each, clock) for each in settings]
    try:
        yield nodes
    finally:
        for node in nodes:
            await node.close()


@pytest.fixture
async def two_nodes(database_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[list[Runtime]]:
    async with running_nodes(database_dsn, tmp_path, clock, mailbox_quota_bytes=QUOTA) as nodes:
        yield nodes


async def paid_mailbox(nodes: list[Runtime]) -> dict[str, object]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=nodes[0].app), base_url=BASE_URL) as http:
        return await claim_and_pay(http, AgentKey.generate())


async def sessions_of(nodes: list[Runtime], details: dict[str, object], count: int) -> list[MailSession]:
    address, password = str(details["email"]), str(details["password"])
    return [
        await nodes[index % len(nodes)].services.mail_access.login(address, password, "127.0.0.1")
        for index in range(count)
    ]


async def sessions_of_one_mailbox(nodes: list[Runtime], count: int) -> list[MailSession]:
    return await sessions_of(nodes, await paid_mailbox(nodes), count)


def a_write_holding_the_folder(connection: Connection, folder_id: int) -> None:
    """A write's first step: the folder's row locked as every writer locks it, held to the end."""
    connection.execute(
        select(folders.c.id).where(folders.c.id == folder_id).with_for_update(key_share=True)
    ).one()


def counted_reads(node: Runtime) -> AbstractContextManager[list[object]]:
    """The statements `node` reads on their own (`Database.read_statement`) meanwhile."""
    return _counted(node, "read_statement")


def counted_writes(node: Runtime) -> AbstractContextManager[list[object]]:
    """The statements `node` writes on their own (`Database.write_statement`) meanwhile."""
    return _counted(node, "write_statement")


@contextmanager
def _counted(node: Runtime, method: str) -> Iterator[list[object]]:
    database = node.database
    original: Callable[..., Awaitable[Any]] = getattr(database, method)
    statements: list[object] = []

    async def counting(statement: Any, *arguments: Any, **named: Any) -> Any:
        statements.append(statement)
        return await original(statement, *arguments, **named)

    setattr(database, method, counting)
    try:
        yield statements
    finally:
        delattr(database, method)


def skip_with_one_writer(nodes: list[Runtime]) -> None:
    if nodes[0].database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: nothing changes between a write's read and its write")


async def changed_while_the_folder_is_held(
    node: Runtime,
    folder_id: int,
    change: Coroutine[Any, Any, T],
    meanwhile: Callable[[AsyncConnection], Awaitable[U]],
) -> tuple[T, U]:
    """Start `change` while a transaction on `node` holds the folder's row as every writer takes it;
    once the change waits there (having read what it changes), run `meanwhile` with that transaction,
    and commit it. What the change and `meanwhile` gave."""
    return await changed_while_held(
        node, lambda c: a_write_holding_the_folder(c, folder_id), change, meanwhile
    )


async def nothing_more(_held: AsyncConnection) -> None:
    return None


async def waiting_for_a_lock(node: Runtime, task: asyncio.Task[Any]) -> None:
    """Until a statement of the database waits for a lock (the change, behind what is held), however
    long the machine takes to get it there; the change must not be done."""
    if node.database.engine.dialect.name == "sqlite":
        await asyncio.sleep(0.3)
        assert not task.done()
        return
    deadline = asyncio.get_running_loop().time() + 10
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while asyncio.get_running_loop().time() < deadline:
        async with node.database.engine.connect() as connection:
            if (await connection.execute(waiting)).scalar_one() > 0:
                break
        assert not task.done()
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the change never waited for a lock")
    assert not task.done()


async def changed_while_held(
    node: Runtime,
    hold: Callable[[Connection], object],
    change: Coroutine[Any, Any, T],
    meanwhile: Callable[[AsyncConnection], Awaitable[U]],
) -> tuple[T, U]:
    """`changed_while_the_folder_is_held` with what `hold` locks held instead."""
    async with node.database.engine.connect() as held:
        await held.begin()
        await held.run_sync(hold)
        task = asyncio.create_task(change)
        await waiting_for_a_lock(node, task)
        done_meanwhile = await meanwhile(held)
        await held.commit()
    return await asyncio.wait_for(task, 5), done_meanwhile


async def test_a_write_waiting_for_one_folder_holds_up_no_other_folder(two_nodes: list[Runtime]) -> None:
    if two_nodes[0].database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: every write waits for the one before it")
    expunging, appending = await sessions_of_one_mailbox(two_nodes, 2)
    await expunging.create_folder("Archive")
    archived = await expunging.append("Archive", message("old"), frozenset({"\\Deleted"}), None)
    archive = (await expunging.status("Archive")).folder_id
    async with two_nodes[0].database.engine.connect() as held:
        # A long write in Archive, holding its row as every writer locks it (a STORE or COPY there).
        await held.begin()
        await held.run_sync(lambda c: a_write_holding_the_folder(c, archive))
        expunge = asyncio.create_task(expunging.expunge(archive))
        await asyncio.sleep(0.3)  # the EXPUNGE is now waiting for Archive's row
        assert not expunge.done()

        appended = await asyncio.wait_for(appending.append("INBOX", message("new"), frozenset(), None), 5)

        assert appended.uid == 1
        assert not expunge.done()
        await held.rollback()
    assert await asyncio.wait_for(expunge, 5) == [archived.uid]


async def test_an_append_waiting_for_its_folder_holds_up_no_append_to_another(
    two_nodes: list[Runtime],
) -> None:
    """Each APPEND is a statement of its own (`append_statement`), not a turn of one writer shared by
    every APPEND of the node."""
    if two_nodes[0].database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: every write waits for the one before it")
    held_back, other = await sessions_of_one_mailbox(two_nodes[:1], 2)
    await held_back.create_folder("Archive")
    archive = (await held_back.status("Archive")).folder_id

    async def append_to_inbox_meanwhile(_held: AsyncConnection) -> Appended:
        return await asyncio.wait_for(other.append("INBOX", message("new"), frozenset(), None), 5)

    archived, appended = await changed_while_the_folder_is_held(
        two_nodes[0],
        archive,
        held_back.append("Archive", message("held"), frozenset(), None),
        append_to_inbox_meanwhile,
    )

    assert (archived.uid, appended.uid) == (1, 1)


def counted_transactions(node: Runtime) -> AbstractContextManager[list[object]]:
    """The units of work `node` writes meanwhile (`Database.run_write`), each one transaction."""
    return _counted(node, "run_write")


async def appends_behind_one_held(
    node: Runtime, sessions: list[MailSession], folder: str
) -> tuple[list[Appended | BaseException], list[object]]:
    """The first session's APPEND waits for `folder`'s row, held; the others' APPENDs come meanwhile,
    in order; then the row is let go. What each APPEND gave, and the transactions they took."""
    folder_id = (await sessions[0].status(folder)).folder_id

    def append(index: int) -> Coroutine[Any, Any, Appended]:
        return sessions[index].append(folder, message(f"behind {index}"), frozenset({"$Order"}), None)

    async def the_others_meanwhile(held: AsyncConnection) -> list[asyncio.Task[Appended]]:
        mailbox_id = await mailbox_of_folder(held, folder_id)
        others = [asyncio.create_task(append(index)) for index in range(1, len(sessions))]
        await until(lambda: node.store.appends_waiting(mailbox_id, folder) == len(others))
        assert not any(task.done() for task in others)
        return others

    with counted_transactions(node) as transactions:
        first, others = await changed_while_the_folder_is_held(
            node, folder_id, append(0), the_others_meanwhile
        )
        rest = await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), 5)
    return [first, *rest], transactions


async def test_appends_to_a_folder_that_come_while_one_is_written_go_together_in_the_next_statement(
    two_nodes: list[Runtime],
) -> None:
    """One lock of the folder and one commit for all of them (`folder_appends`), each APPEND whole, with
    the UIDs in the order they came."""
    skip_with_one_writer(two_nodes)
    sessions = await sessions_of_one_mailbox(two_nodes[:1], 5)

    appended, transactions = await appends_behind_one_held(two_nodes[0], sessions, "INBOX")

    assert [each.uid for each in appended if isinstance(each, Appended)] == [1, 2, 3, 4, 5]
    assert len(transactions) == 2


async def mailbox_of_folder(connection: AsyncConnection, folder_id: int) -> str:
    found = await connection.execute(select(folders.c.mailbox_id).where(folders.c.id == folder_id))
    return str(found.scalar_one())


async def a_delivery_to_inbox(
    node: Runtime, clock: FixedClock, subject: str
) -> tuple[MailSession, int, Delivery]:
    """A session of a new paid mailbox, its INBOX's id, and a delivery of one message there: not an
    APPEND, so written by the group-commit path, as SMTP's deliveries are."""
    (session,) = await sessions_of_one_mailbox([node], 1)
    inbox = (await session.status("INBOX")).folder_id
    async with node.database.engine.connect() as connection:
        mailbox_id = await mailbox_of_folder(connection, inbox)
    raw = message(subject)
    return session, inbox, Delivery((MessageCopy(mailbox_id, raw, parse_message(raw), clock.now()),))


async def test_a_store_closed_while_a_delivery_waits_for_its_folder_commits_it_and_answers(
    two_nodes: list[Runtime], clock: FixedClock
) -> None:
    """Closing the store lets its writer finish: cancelled in the middle of a commit, it would leave
    the delivery's caller unanswered and its outcome unknown."""
    node = two_nodes[0]
    session, inbox, delivery = await a_delivery_to_inbox(node, clock, "delivered while closing")

    async def close_meanwhile(_held: AsyncConnection) -> asyncio.Task[None]:
        closing = asyncio.create_task(node.store.close())
        await asyncio.sleep(0.2)  # the writer waits for the folder all this while
        assert not closing.done()
        return closing

    stored, closing = await changed_while_the_folder_is_held(
        node, inbox, node.store.store(delivery), close_meanwhile
    )
    await asyncio.wait_for(closing, 5)

    assert [each.uid for each in stored] == [1]
    assert [meta.uid for meta in (await session.open("INBOX")).messages] == [1]


async def test_a_store_whose_writer_cannot_finish_closes_after_its_bound(
    two_nodes: list[Runtime], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that does not answer does not hold the close for longer than `WRITER_STOP_SECONDS`,
    and the delivery's caller is answered (`StorageUnavailable`: try again), not left waiting."""
    monkeypatch.setattr(message_store, "WRITER_STOP_SECONDS", 0.3)
    node = two_nodes[0]
    _, inbox, delivery = await a_delivery_to_inbox(node, clock, "never committed")

    async with node.database.engine.connect() as held:
        await held.begin()
        await held.run_sync(lambda c: a_write_holding_the_folder(c, inbox))
        storing = asyncio.create_task(node.store.store(delivery))
        await waiting_for_a_lock(node, storing)
        took = await seconds_to_close(node)
        with pytest.raises(StorageUnavailable):
            await asyncio.wait_for(storing, 5)
        await held.rollback()
    assert 0.29 < took < 3  # the loop's clock counts whole milliseconds: 0.3 may read as 0.2999...


async def test_a_store_whose_append_statement_cannot_finish_closes_after_its_bound(
    two_nodes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for an APPEND, written by a statement of its own (`folder_appends`). Whether it was
    stored is not known: its statement, cancelled, may still commit once the folder is let go."""
    skip_with_one_writer(two_nodes)
    monkeypatch.setattr(message_store, "WRITER_STOP_SECONDS", 0.3)
    node = two_nodes[0]
    (session,) = await sessions_of_one_mailbox([node], 1)
    inbox = (await session.status("INBOX")).folder_id

    async with node.database.engine.connect() as held:
        await held.begin()
        await held.run_sync(lambda c: a_write_holding_the_folder(c, inbox))
        appending = asyncio.create_task(
            session.append("INBOX", message("never committed"), frozenset(), None)
        )
        await waiting_for_a_lock(node, appending)
        took = await seconds_to_close(node)
        with pytest.raises(StorageUnavailable):
            await asyncio.wait_for(appending, 5)
        await held.rollback()
    assert 0.29 < took < 3


async def seconds_to_close(node: Runtime) -> float:
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(node.store.close(), 5)
    return asyncio.get_running_loop().time() - started


async def test_appends_written_together_that_the_quota_cannot_all_take_are_stored_while_they_fit(
    database_dsn: str, tmp_path: Path, clock: FixedClock
) -> None:
    """A statement stores all its messages or none: when the mailbox has no room for all, each APPEND
    goes through the group-commit path, which stores those that fit (here, in the order they came: no
    other APPEND comes meanwhile)."""
    size = len(message("behind 0"))
    quota = {"mailbox_quota_bytes": 3 * size, "retention_delete_oldest_read": False}
    async with running_nodes(database_dsn, tmp_path, clock, **quota) as nodes:
        skip_with_one_writer(nodes)
        sessions = await sessions_of_one_mailbox(nodes[:1], 5)

        appended, transactions = await appends_behind_one_held(nodes[0], sessions, "INBOX")

        assert [each.uid if isinstance(each, Appended) else type(each) for each in appended] == [
            1,
            2,
            3,
            MailboxFull,
            MailboxFull,
        ]
        assert len(transactions) == 2  # the first; the four together, then through the group path
        assert (await sessions[0].quota()).used_bytes == 3 * size


async def test_flag_changes_waiting_for_their_folder_hold_up_no_read(two_nodes: list[Runtime]) -> None:
    """More flag changes wait for a held folder than the pool of reads has connections; the read
    asked after every command still gets one."""
    skip_with_one_writer(two_nodes)
    storing, reading = await sessions_of(two_nodes[:1], await paid_mailbox(two_nodes), 2)  # one node
    appended = await storing.append("INBOX", message("flagged"), frozenset(), None)
    inbox = (await storing.status("INBOX")).folder_id
    waiting = POSTGRES_READ_POOL + 2
    async with two_nodes[0].database.engine.connect() as held:
        await held.begin()
        await held.run_sync(lambda c: a_write_holding_the_folder(c, inbox))
        stores = [
            asyncio.create_task(
                storing.store_flags(inbox, [appended.uid], FlagChange.ADD, frozenset({f"$K{n}"}))
            )
            for n in range(waiting)
        ]
        await asyncio.sleep(0.5)  # each has read the message and waits for the folder's row

        changes = await asyncio.wait_for(reading.changes(inbox, 0), 5)

        assert not any(store.done() for store in stores)
        await held.rollback()
    await asyncio.wait_for(asyncio.gather(*stores), 10)
    assert [meta.uid for meta in changes.changed] == [appended.uid]
    assert set((await stored_flags(two_nodes[0], inbox))[appended.uid].split()) == {
        f"$K{n}" for n in range(waiting)
    }


def another_writer_sets_flags(connection: Connection, folder_id: int, uid: int, flags: str) -> None:
    """What a writer holding the folder's row does to one message: a new modseq and new flags."""
    modseq = connection.execute(
        update(folders)
        .where(folders.c.id == folder_id)
        .values(highestmodseq=folders.c.highestmodseq + 1)
        .returning(folders.c.highestmodseq)
    ).scalar_one()
    connection.execute(
        update(messages)
        .where(messages.c.folder_id == folder_id, messages.c.uid == uid)
        .values(flags=flags, modseq=modseq)
    )


async def test_a_flag_change_waiting_for_the_folder_edits_what_another_writer_committed_meanwhile(
    two_nodes: list[Runtime],
) -> None:
    """The messages are read before the folder's row is taken; one changed meanwhile is read again."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    appended = await session.append("INBOX", message("flagged twice"), frozenset(), None)
    inbox = (await session.status("INBOX")).folder_id
    stored, _ = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.store_flags(inbox, [appended.uid], FlagChange.ADD, frozenset({"\\Seen"})),
        lambda held: held.run_sync(lambda c: another_writer_sets_flags(c, inbox, appended.uid, "$Urgent")),
    )
    assert [meta.flags for meta in stored.updated] == [frozenset({"$Urgent", "\\Seen"})]
    assert await stored_flags(two_nodes[0], inbox) == {appended.uid: "$Urgent \\Seen"}


async def test_a_change_to_another_message_while_a_store_waits_is_told_after_the_store(
    two_nodes: list[Runtime],
) -> None:
    """A STORE's changes are read with its messages; the read after it is spared only when its write
    took the modseq right after that read. Here another writer came between."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    stored_on = await session.append("INBOX", message("stored on"), frozenset(), None)
    other = await session.append("INBOX", message("changed elsewhere"), frozenset(), None)
    inbox = (await session.status("INBOX")).folder_id
    known = (await session.changes(inbox, 0)).highestmodseq
    session.begin_command()

    stored, _ = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.store_flags(
            inbox, [stored_on.uid], FlagChange.ADD, frozenset({"\\Seen"}), changes_since=known
        ),
        lambda held: held.run_sync(lambda c: another_writer_sets_flags(c, inbox, other.uid, "$Elsewhere")),
    )
    after = await session.changes(inbox, known)

    assert stored.before is not None and stored.before.changed == ()
    assert {meta.uid: meta.flags for meta in after.changed} == {
        stored_on.uid: frozenset({"\\Seen"}),
        other.uid: frozenset({"$Elsewhere"}),
    }
    assert after.highestmodseq == known + 2


async def test_a_store_that_nothing_came_between_answers_the_read_after_it_with_what_it_knows(
    two_nodes: list[Runtime],
) -> None:
    """The changes asked after the STORE are those a read would find: what was read with its messages
    and what it wrote."""
    (session, elsewhere) = await sessions_of_one_mailbox(two_nodes, 2)
    stored_on = await session.append("INBOX", message("stored on"), frozenset(), None)
    other = await session.append("INBOX", message("changed elsewhere"), frozenset(), None)
    inbox = (await session.status("INBOX")).folder_id
    known = (await session.changes(inbox, 0)).highestmodseq
    await elsewhere.store_flags(inbox, [other.uid], FlagChange.ADD, frozenset({"$Elsewhere"}))
    session.begin_command()

    await session.store_flags(
        inbox, [stored_on.uid], FlagChange.ADD, frozenset({"\\Seen"}), changes_since=known
    )
    with counted_reads(two_nodes[0]) as reads:
        told = await session.changes(inbox, known)
    read = await session.changes(inbox, known)

    assert reads == []
    assert told == read
    assert {meta.uid: meta.flags for meta in told.changed} == {
        stored_on.uid: frozenset({"\\Seen"}),
        other.uid: frozenset({"$Elsewhere"}),
    }


@pytest.mark.parametrize("by_uid", [False, True])
async def test_an_expunge_that_nothing_came_between_answers_the_read_after_it_with_what_it_knows(
    two_nodes: list[Runtime], by_uid: bool
) -> None:
    """As a STORE: the changes read with the messages to expunge, and what the expunge removed, are
    what a read after it finds, flags the messages went with included."""
    (session, elsewhere) = await sessions_of_one_mailbox(two_nodes, 2)
    doomed = await session.append("INBOX", message("doomed"), frozenset({"$Mine"}), None)
    other = await session.append("INBOX", message("changed elsewhere"), frozenset(), None)
    inbox = (await session.status("INBOX")).folder_id
    known = (await session.changes(inbox, 0)).highestmodseq
    await elsewhere.store_flags(inbox, [other.uid], FlagChange.ADD, frozenset({"$Elsewhere"}))
    await elsewhere.store_flags(inbox, [doomed.uid], FlagChange.ADD, frozenset({"\\Deleted"}))
    session.begin_command()

    uids = [doomed.uid, other.uid] if by_uid else None
    assert await session.expunge(inbox, uids, changes_since=known) == [doomed.uid]
    with counted_reads(two_nodes[0]) as reads:
        told = await session.changes(inbox, known)
    read = await session.changes(inbox, known)

    if two_nodes[0].database.engine.dialect.name != "sqlite":  # SQLite reads them in the write
        assert reads == []
    assert told == read
    assert told.expunged == (doomed.uid,)
    assert dict(told.last_flags) == {doomed.uid: frozenset({"\\Deleted", "$Mine"})}
    assert {meta.uid: meta.flags for meta in told.changed} == {other.uid: frozenset({"$Elsewhere"})}


async def test_an_expunge_with_nothing_to_remove_answers_the_read_after_it_from_its_own(
    two_nodes: list[Runtime],
) -> None:
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    await session.append("INBOX", message("kept"), frozenset(), None)
    inbox = (await session.status("INBOX")).folder_id
    known = (await session.changes(inbox, 0)).highestmodseq
    session.begin_command()

    with counted_reads(two_nodes[0]) as reads:
        assert await session.expunge(inbox, changes_since=known) == []
        told = await session.changes(inbox, known)

    assert len(reads) == 1, "the read of the messages to expunge, which read the changes too"
    assert told == await session.changes(inbox, known)


@pytest.mark.parametrize("by_uid", [False, True])
async def test_an_expunge_whose_messages_another_writer_expunged_meanwhile_reads_the_changes_after_it(
    two_nodes: list[Runtime], by_uid: bool
) -> None:
    """It removed nothing, but not because there was nothing: the changes it read are out of date."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    doomed = await session.append("INBOX", message("doomed"), frozenset({"\\Deleted"}), None)
    inbox = (await session.status("INBOX")).folder_id
    mailbox_id = await mailbox_of(two_nodes[0], inbox)
    known = (await session.changes(inbox, 0)).highestmodseq
    session.begin_command()

    expunged, _ = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.expunge(inbox, [doomed.uid] if by_uid else None, changes_since=known),
        lambda held: held.run_sync(lambda c: message_changes.expunge(c, mailbox_id, inbox, [doomed.uid])),
    )
    told = await session.changes(inbox, known)

    assert expunged == []
    assert told.expunged == (doomed.uid,)
    assert told == await session.changes(inbox, known)


async def test_a_change_to_another_message_while_an_expunge_waits_is_told_after_the_expunge(
    two_nodes: list[Runtime],
) -> None:
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    doomed = await session.append("INBOX", message("doomed"), frozenset({"\\Deleted"}), None)
    other = await session.append("INBOX", message("changed elsewhere"), frozenset(), None)
    inbox = (await session.status("INBOX")).folder_id
    known = (await session.changes(inbox, 0)).highestmodseq
    session.begin_command()

    expunged, _ = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.expunge(inbox, changes_since=known),
        lambda held: held.run_sync(lambda c: another_writer_sets_flags(c, inbox, other.uid, "$Elsewhere")),
    )
    after = await session.changes(inbox, known)

    assert expunged == [doomed.uid]
    assert after.expunged == (doomed.uid,)
    assert {meta.uid: meta.flags for meta in after.changed} == {other.uid: frozenset({"$Elsewhere"})}
    assert after.highestmodseq == known + 2


@pytest.mark.parametrize("meanwhile", ["expunged", "same-flags", "unchangedsince"])
async def test_a_store_that_another_writer_left_nothing_to_write_reads_the_changes_after_it(
    two_nodes: list[Runtime], meanwhile: str
) -> None:
    """The STORE's write found its message changed or gone, and its second read nothing left to do:
    what it read first is out of date, so the changes asked after it are read again."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    target = await session.append("INBOX", message("target"), frozenset({"\\Deleted"}), None)
    inbox = (await session.status("INBOX")).folder_id
    mailbox_id = await mailbox_of(two_nodes[0], inbox)
    known = (await session.changes(inbox, 0)).highestmodseq
    session.begin_command()

    def other_writer(connection: Connection) -> None:
        if meanwhile == "expunged":
            message_changes.expunge(connection, mailbox_id, inbox, [target.uid])
        elif meanwhile == "same-flags":
            another_writer_sets_flags(connection, inbox, target.uid, "\\Deleted \\Seen")
        else:
            another_writer_sets_flags(connection, inbox, target.uid, "\\Deleted $Other")

    await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.store_flags(
            inbox,
            [target.uid],
            FlagChange.ADD,
            frozenset({"\\Seen"}),
            unchanged_since=known if meanwhile == "unchangedsince" else None,
            changes_since=known,
        ),
        lambda held: held.run_sync(other_writer),
    )
    told = await session.changes(inbox, known)
    read = await session.changes(inbox, known)

    assert told == read
    assert told.highestmodseq == known + 1


async def test_an_expunge_waiting_for_the_folder_keeps_a_message_undeleted_meanwhile(
    two_nodes: list[Runtime],
) -> None:
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    kept = await session.append("INBOX", message("kept"), frozenset({"\\Deleted"}), None)
    gone = await session.append("INBOX", message("gone"), frozenset({"\\Deleted"}), None)
    inbox = (await session.status("INBOX")).folder_id
    expunged, _ = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.expunge(inbox),
        lambda held: held.run_sync(lambda c: another_writer_sets_flags(c, inbox, kept.uid, "")),
    )
    assert expunged == [gone.uid]
    assert await stored_flags(two_nodes[0], inbox) == {kept.uid: ""}


def a_copy_into(connection: Connection, source_id: int, uid: int, target_id: int) -> None:
    """What COPY writes, holding the source folder's row: a new row in the target that shares the raw
    message of the source."""
    source = connection.execute(
        select(messages).where(messages.c.folder_id == source_id, messages.c.uid == uid)
    ).one()
    copy = {key: value for key, value in source._asdict().items() if key != "id"}
    connection.execute(insert(messages).values({**copy, "folder_id": target_id, "uid": 1000}))


async def test_an_expunge_waiting_for_the_folder_keeps_the_raw_message_a_copy_made_meanwhile_shares(
    two_nodes: list[Runtime],
) -> None:
    """An expunge waits for a COPY out of its folder; the raw message the copy shares must stay."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    await session.create_folder("Kept")
    inbox, kept = [(await session.status(name)).folder_id for name in ("INBOX", "Kept")]
    doomed = await session.append("INBOX", message("copied"), frozenset({"\\Deleted"}), None)
    expunged, _ = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.expunge(inbox),
        lambda held: held.run_sync(lambda c: a_copy_into(c, inbox, doomed.uid, kept)),
    )
    assert expunged == [doomed.uid]
    await settled(two_nodes)  # the raw messages' delete runs after the answer
    assert await session.raw(kept, [1000]) == {1000: message("copied")}


async def a_message_to_copy(
    nodes: list[Runtime], subject: str, flags: frozenset[str] = frozenset()
) -> tuple[MailSession, Appended, int]:
    """A session of a new mailbox with a folder "Kept" to copy to, the message appended to its INBOX, and
    the INBOX's id (PostgreSQL only)."""
    skip_with_one_writer(nodes)
    (session,) = await sessions_of_one_mailbox(nodes, 1)
    await session.create_folder("Kept")
    appended = await session.append("INBOX", message(subject), flags, None)
    return session, appended, (await session.status("INBOX")).folder_id


async def test_a_copy_waiting_for_its_target_folder_takes_uids_after_those_given_meanwhile(
    two_nodes: list[Runtime],
) -> None:
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    await session.create_folder("Kept")
    first = await session.append("INBOX", message("first"), frozenset(), None)
    second = await session.append("INBOX", message("second"), frozenset(), None)
    inbox, kept = [(await session.status(name)).folder_id for name in ("INBOX", "Kept")]
    mailbox_id = await mailbox_of(two_nodes[0], inbox)

    def copy_of_first(connection: Connection) -> Copied:
        copied, _ = message_changes.copy_messages(
            connection, mailbox_id, inbox, [first.uid], "Kept", False, QUOTA
        )
        return copied

    def holding_both_folders(connection: Connection) -> None:
        for folder_id in sorted((inbox, kept)):  # in id order, as every writer of several folders
            a_write_holding_the_folder(connection, folder_id)

    copied, meanwhile = await changed_while_held(
        two_nodes[1],
        holding_both_folders,
        session.copy(inbox, [second.uid], "Kept"),
        lambda held: held.run_sync(copy_of_first),
    )

    assert (meanwhile.target_uids, copied.target_uids) == ((1,), (2,))
    assert await session.raw(kept, [1, 2]) == {1: message("first"), 2: message("second")}
    assert (await session.status("Kept")).uidnext == 3


async def test_a_copy_waits_for_a_writer_of_its_source_folder(two_nodes: list[Runtime]) -> None:
    """The source folder's row is locked too: its writers change its messages in orders of their own
    (an expunge in id order, a copy in uid order), so a copy that took only the messages could wait for
    one of them while it waited for the copy."""
    session, appended, inbox = await a_message_to_copy(two_nodes, "copied")

    copied, _ = await changed_while_the_folder_is_held(
        two_nodes[1], inbox, session.copy(inbox, [appended.uid], "Kept"), nothing_more
    )

    assert copied.target_uids == (1,)


async def test_a_copy_waiting_for_its_folders_counts_the_room_freed_meanwhile(
    two_nodes: list[Runtime],
) -> None:
    """The quota is read from the mailbox row as locked, not as it was when the copy began."""
    session, appended, inbox = await a_message_to_copy(two_nodes, "copied")
    quota = await session.quota()
    await session.append("Kept", b"x" * (quota.limit_bytes - quota.used_bytes - 10), frozenset(), None)
    mailbox_id = await mailbox_of(two_nodes[0], inbox)

    def room_freed(connection: Connection) -> None:
        a_write_holding_the_folder(connection, inbox)
        connection.execute(
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id)
            .values(used_bytes=mailboxes.c.used_bytes - 10_000)
        )

    copied, _ = await changed_while_held(
        two_nodes[1], room_freed, session.copy(inbox, [appended.uid], "Kept"), nothing_more
    )

    assert len(copied.target_uids) == 1


async def test_a_copy_waiting_for_a_flag_change_of_its_message_copies_the_new_flags(
    two_nodes: list[Runtime],
) -> None:
    """A copy waits for a STORE of its source folder, and takes its messages `FOR SHARE` after both
    folders: the message is copied as the STORE leaves it."""
    session, appended, inbox = await a_message_to_copy(two_nodes, "flagged meanwhile", frozenset({"\\Seen"}))
    kept = (await session.status("Kept")).folder_id

    copied, _ = await changed_while_held(
        two_nodes[1],
        lambda c: another_writer_sets_flags(c, inbox, appended.uid, "$Urgent"),
        session.copy(inbox, [appended.uid], "Kept"),
        nothing_more,
    )

    assert copied.target_uids == (1,)
    assert await stored_flags(two_nodes[0], kept) == {1: "$Urgent"}


async def test_a_copy_waiting_for_a_message_expunged_meanwhile_copies_nothing_and_counts_nothing(
    two_nodes: list[Runtime],
) -> None:
    session, appended, inbox = await a_message_to_copy(two_nodes, "expunged meanwhile")
    used_before = (await session.quota()).used_bytes

    def expunge_of_the_message(connection: Connection) -> None:
        connection.execute(
            delete(messages).where(messages.c.folder_id == inbox, messages.c.uid == appended.uid)
        )

    copied, _ = await changed_while_held(
        two_nodes[1], expunge_of_the_message, session.copy(inbox, [appended.uid], "Kept"), nothing_more
    )

    assert copied.target_uids == ()
    kept = await session.status("Kept")
    assert (kept.messages, kept.uidnext) == (0, 1)
    assert (await session.quota()).used_bytes == used_before


def moved_away_and_back(connection: Connection, mailbox_id: str, inbox: int, uid: int) -> int:
    """MOVE a message out of INBOX and back, as another session may: the same row, with a new uid (and
    modseq) in INBOX."""
    there, _ = message_changes.copy_messages(connection, mailbox_id, inbox, [uid], "Archive", True, QUOTA)
    archive = there_folder_id(connection, mailbox_id, "Archive")
    back, _ = message_changes.copy_messages(
        connection, mailbox_id, archive, list(there.target_uids), "INBOX", True, QUOTA
    )
    (new_uid,) = back.target_uids
    return new_uid


def there_folder_id(connection: Connection, mailbox_id: str, name: str) -> int:
    return int(
        connection.execute(
            select(folders.c.id).where(folders.c.mailbox_id == mailbox_id, folders.c.name == name)
        ).scalar_one()
    )


@pytest.mark.parametrize("change", ["STORE", "EXPUNGE"])
async def test_a_change_by_uid_waiting_for_the_folder_leaves_a_message_moved_away_and_back_meanwhile(
    two_nodes: list[Runtime], change: str
) -> None:
    """The row is the same, but under a new uid: a UID STORE or UID EXPUNGE of the old uid finds
    nothing."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    await session.create_folder("Archive")
    asked = await session.append("INBOX", message("asked"), frozenset({"\\Deleted"}), None)
    inbox = (await session.status("INBOX")).folder_id
    mailbox_id = await mailbox_of(two_nodes[0], inbox)
    changed, new_uid = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        changed_by_uid(session, change, inbox, asked.uid),
        lambda held: held.run_sync(lambda c: moved_away_and_back(c, mailbox_id, inbox, asked.uid)),
    )
    assert changed == []
    assert await stored_flags(two_nodes[0], inbox) == {new_uid: "\\Deleted"}
    assert await folder_modseq(two_nodes[0], inbox) == await message_modseq(two_nodes[0], inbox, new_uid)


async def folder_modseq(node: Runtime, folder_id: int) -> int:
    """The folder's HIGHESTMODSEQ: a change that found nothing to change leaves it as it was."""
    async with node.database.engine.connect() as connection:
        found = await connection.execute(select(folders.c.highestmodseq).where(folders.c.id == folder_id))
        return int(found.scalar_one())


async def message_modseq(node: Runtime, folder_id: int, uid: int) -> int:
    async with node.database.engine.connect() as connection:
        found = await connection.execute(
            select(messages.c.modseq).where(messages.c.folder_id == folder_id, messages.c.uid == uid)
        )
        return int(found.scalar_one())


async def test_a_flag_change_waiting_for_the_folder_leaves_a_message_moved_out_at_the_same_modseq(
    two_nodes: list[Runtime],
) -> None:
    """Each folder counts its own modseqs: the moved message may have the very modseq it was read with."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    await session.create_folder("Archive")
    asked = await session.append("INBOX", message("asked"), frozenset(), None)
    inbox = (await session.status("INBOX")).folder_id
    mailbox_id = await mailbox_of(two_nodes[0], inbox)

    def moved_out_at_its_modseq(connection: Connection) -> int:
        modseq = connection.execute(
            select(messages.c.modseq).where(messages.c.folder_id == inbox, messages.c.uid == asked.uid)
        ).scalar_one()
        archive = there_folder_id(connection, mailbox_id, "Archive")
        connection.execute(update(folders).where(folders.c.id == archive).values(highestmodseq=modseq - 1))
        message_changes.copy_messages(connection, mailbox_id, inbox, [asked.uid], "Archive", True, QUOTA)
        return archive

    changed, archive = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        changed_by_uid(session, "STORE", inbox, asked.uid),
        lambda held: held.run_sync(moved_out_at_its_modseq),
    )
    assert changed == []
    assert list((await stored_flags(two_nodes[0], archive)).values()) == [""]


async def test_an_append_waiting_for_its_folder_while_its_webhook_is_removed_is_stored(
    two_nodes: list[Runtime],
) -> None:
    """The endpoints a delivery queues webhooks for are read under the locks: one removed while the
    delivery waited is not written to (its deliveries' foreign key would fail the whole group)."""
    skip_with_one_writer(two_nodes)
    details = await paid_mailbox(two_nodes)
    (session,) = await sessions_of(two_nodes, details, 1)
    mailbox = await two_nodes[0].services.inbox.authenticate(str(details["access_token"]))
    hook = await two_nodes[0].services.webhooks.register(mailbox, "https://hooks.example.org/x", None, None)
    inbox = (await session.status("INBOX")).folder_id
    appended, _ = await changed_while_the_folder_is_held(
        two_nodes[1],
        inbox,
        session.append("INBOX", message("hooked"), frozenset(), None),
        lambda _held: two_nodes[0].services.webhooks.remove(mailbox, hook.endpoint.id),
    )
    assert appended.uid == 1


async def test_an_endpoint_registered_while_an_append_waits_for_its_folder_gets_its_event(
    two_nodes: list[Runtime],
) -> None:
    """The endpoints are read once the APPEND holds its rows, as committed then; not as they were when
    its statement began."""
    skip_with_one_writer(two_nodes)
    details = await paid_mailbox(two_nodes)
    (session,) = await sessions_of(two_nodes, details, 1)
    mailbox = await two_nodes[0].services.inbox.authenticate(str(details["access_token"]))
    inbox = (await session.status("INBOX")).folder_id

    async def register(_held: AsyncConnection) -> str:
        hook = await two_nodes[0].services.webhooks.register(
            mailbox, "https://hooks.example.org/y", None, None
        )
        return hook.endpoint.id

    appended, endpoint_id = await changed_while_the_folder_is_held(
        two_nodes[1], inbox, session.append("INBOX", message("hooked"), frozenset(), None), register
    )

    async with two_nodes[0].database.engine.connect() as connection:
        queued = await connection.execute(
            select(webhook_deliveries.c.event_type).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        )
        assert list(queued.scalars()) == ["message.received"]
    assert appended.uid == 1


async def test_an_append_whose_client_goes_away_while_it_waits_is_stored_and_announced(
    two_nodes: list[Runtime],
) -> None:
    """As through the group: a caller that goes away cancels only its wait; what is stored is told."""
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes[:1], 1)
    inbox = (await session.status("INBOX")).folder_id
    watch = session.watch()

    async def client_goes_away(appending: asyncio.Task[Appended]) -> None:
        appending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await appending

    async with two_nodes[0].database.engine.connect() as held:
        await held.begin()
        await held.run_sync(lambda c: a_write_holding_the_folder(c, inbox))
        appending = asyncio.create_task(session.append("INBOX", message("left"), frozenset(), None))
        await waiting_for_a_lock(two_nodes[0], appending)
        await client_goes_away(appending)
        await held.commit()

    assert await asyncio.wait_for(anext(aiter(watch)), 5) == inbox  # the folder that changed
    assert (await session.status("INBOX")).messages == 1


def writes_of(other: MailSession) -> Callable[[AsyncConnection], Awaitable[Appended]]:
    """Another mailbox's writes while a folder is held: they must not wait for a connection."""

    async def writes(_held: AsyncConnection) -> Appended:
        await asyncio.wait_for(other.create_folder("Elsewhere"), 5)
        return await asyncio.wait_for(other.append("Elsewhere", message("other"), frozenset(), None), 5)

    return writes


async def test_appends_waiting_for_one_folder_leave_the_node_connections_for_other_writes(
    two_nodes: list[Runtime],
) -> None:
    """More APPENDs wait for one held folder than the node's pool of durable writes has connections;
    only one of them waits in the database, and another mailbox's writes go on."""
    skip_with_one_writer(two_nodes)
    node = two_nodes[0]
    waiting = await sessions_of_one_mailbox([node], 1)
    (other,) = await sessions_of_one_mailbox([node], 1)
    inbox = (await waiting[0].status("INBOX")).folder_id
    many = POOL_SIZE + 5

    async def appends() -> list[Appended]:
        return list(
            await asyncio.gather(
                *(waiting[0].append("INBOX", message(f"m{n}"), frozenset(), None) for n in range(many))
            )
        )

    appended, elsewhere = await changed_while_the_folder_is_held(node, inbox, appends(), writes_of(other))

    assert sorted(a.uid for a in appended) == list(range(1, many + 1))
    assert elsewhere.uid == 1


@pytest.mark.parametrize("source_held", [True, False], ids=["source-held", "target-held"])
async def test_copies_waiting_for_a_held_folder_leave_the_node_connections_for_other_writes(
    two_nodes: list[Runtime], source_held: bool
) -> None:
    """More COPYs wait for one held folder (their source, or their target) than the node's pool of
    durable writes has connections; only one of them per folder waits in the database, and another
    mailbox's writes go on."""
    skip_with_one_writer(two_nodes)
    node = two_nodes[0]
    (copying,) = await sessions_of_one_mailbox([node], 1)
    (other,) = await sessions_of_one_mailbox([node], 1)
    many = POOL_SIZE + 5
    sources = ["INBOX"] if source_held else [f"From{n}" for n in range(many)]
    for name in sources[1:] if source_held else sources:
        await copying.create_folder(name)
    await copying.create_folder("Kept")
    small = b"Subject: copied\r\n\r\nx\r\n"  # so many copies stay inside the quota
    appended = [await copying.append(name, small, frozenset(), None) for name in sources]
    source_ids = [(await copying.status(name)).folder_id for name in sources]
    held = source_ids[0] if source_held else (await copying.status("Kept")).folder_id

    async def copies() -> list[Copied]:
        targets = [f"To{n}" for n in range(many)] if source_held else ["Kept"] * many
        for name in set(targets) - {"Kept"}:
            await copying.create_folder(name)
        return list(
            await asyncio.gather(
                *(
                    copying.copy(source_ids[n % len(sources)], [appended[n % len(sources)].uid], targets[n])
                    for n in range(many)
                )
            )
        )

    copied, elsewhere = await changed_while_the_folder_is_held(node, held, copies(), writes_of(other))

    assert all(len(each.target_uids) == 1 for each in copied)
    assert elsewhere.uid == 1


async def test_an_append_that_fails_in_the_database_is_answered_storage_unavailable(
    two_nodes: list[Runtime],
) -> None:
    skip_with_one_writer(two_nodes)
    (session,) = await sessions_of_one_mailbox(two_nodes[:1], 1)
    inbox = (await session.status("INBOX")).folder_id

    async def cancel_the_waiting_statement(held: AsyncConnection) -> None:
        await held.execute(
            text(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )

    with pytest.raises(StorageUnavailable):
        await changed_while_the_folder_is_held(
            two_nodes[0],
            inbox,
            session.append("INBOX", message("cancelled"), frozenset(), None),
            cancel_the_waiting_statement,
        )
    assert (await session.status("INBOX")).messages == 0


async def test_a_group_too_large_for_one_statement_is_written_a_statement_per_table(
    two_nodes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "ONE_STATEMENT_BYTES", 1000)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    used_before, raws_before = await used_bytes_and_raw_count(two_nodes[0])
    new = [NewMessage(message(f"large {n}"), frozenset(), None) for n in range(3)]

    appended = await session.append_all("INBOX", new)

    inbox = (await session.status("INBOX")).folder_id
    assert await session.raw(inbox, list(appended.uids)) == dict(
        zip(appended.uids, [m.raw for m in new], strict=True)
    )
    await settled(two_nodes)
    used_after, raws_after = await used_bytes_and_raw_count(two_nodes[0])
    assert (used_after - used_before, raws_after - raws_before) == (sum(len(m.raw) for m in new), 3)


async def changed_by_uid(session: MailSession, change: str, folder_id: int, uid: int) -> list[int]:
    """UID STORE +FLAGS ($X) or UID EXPUNGE of `uid`: the uids it changed."""
    if change == "EXPUNGE":
        return await session.expunge(folder_id, [uid])
    stored = await session.store_flags(folder_id, [uid], FlagChange.ADD, frozenset({"$X"}))
    return [meta.uid for meta in stored.updated]


async def mailbox_of(node: Runtime, folder_id: int) -> str:
    async with node.database.engine.connect() as connection:
        found = await connection.execute(select(folders.c.mailbox_id).where(folders.c.id == folder_id))
        return str(found.scalar_one())


async def test_an_expunge_frees_the_bytes_and_the_raw_message_no_copy_still_shares(
    two_nodes: list[Runtime],
) -> None:
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    await session.create_folder("Kept")
    inbox = (await session.status("INBOX")).folder_id
    shared = await session.append("INBOX", message("shared"), frozenset({"\\Deleted"}), None)
    alone = await session.append("INBOX", message("alone"), frozenset({"\\Deleted"}), None)
    copied = await session.copy(inbox, [shared.uid], "Kept")
    used_before, raws_before = await used_bytes_and_raw_count(two_nodes[0])

    assert await session.expunge(inbox) == [shared.uid, alone.uid]

    await settled(two_nodes)
    used_after, raws_after = await used_bytes_and_raw_count(two_nodes[0])
    assert used_before - used_after == len(message("shared")) + len(message("alone"))
    assert raws_before - raws_after == 1  # the copy in Kept still reads the shared one
    kept = (await session.status("Kept")).folder_id
    assert await session.raw(kept, list(copied.target_uids)) == {copied.target_uids[0]: message("shared")}


async def test_an_expunge_of_more_raw_messages_than_one_delete_takes_frees_them_all(
    two_nodes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_changes, "RAWS_PER_DELETE", 2)
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    inbox = (await session.status("INBOX")).folder_id
    doomed = [
        await session.append("INBOX", message(f"gone {n}"), frozenset({"\\Deleted"}), None) for n in range(5)
    ]
    _, raws_before = await used_bytes_and_raw_count(two_nodes[0])

    assert await session.expunge(inbox) == [appended.uid for appended in doomed]

    await settled(two_nodes)
    _, raws_after = await used_bytes_and_raw_count(two_nodes[0])
    assert raws_before - raws_after == 5


async def stored_flags(node: Runtime, folder_id: int) -> dict[int, str]:
    async with node.database.engine.connect() as connection:
        rows = await connection.execute(
            select(messages.c.uid, messages.c.flags).where(messages.c.folder_id == folder_id)
        )
        return {row.uid: row.flags for row in rows}


async def settled(nodes: list[Runtime]) -> None:
    """Every node's writes made after an answer (an EXPUNGE's raw messages' delete) have ended."""
    for node in nodes:
        assert node.mail_folders is not None
        await node.mail_folders.settle()


async def used_bytes_and_raw_count(node: Runtime) -> tuple[int, int]:
    async with node.database.engine.connect() as connection:
        used = (await connection.execute(select(func.sum(mailboxes.c.used_bytes)))).scalar_one()
        raws = (await connection.execute(select(func.count()).select_from(message_raw))).scalar_one()
        return int(used), int(raws)


async def test_a_session_claiming_recent_messages_does_not_wait_behind_a_write_to_the_folder(
    two_nodes: list[Runtime],
) -> None:
    if two_nodes[0].database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: every write waits for the one before it")
    first, second = await sessions_of_one_mailbox(two_nodes, 2)
    appended = await first.append("INBOX", message("new"), frozenset(), None)
    inbox = (await first.status("INBOX")).folder_id
    async with two_nodes[0].database.engine.connect() as held:
        await held.begin()
        await held.run_sync(lambda c: a_write_holding_the_folder(c, inbox))

        claimed_before = await asyncio.wait_for(first.claim_recent(inbox, appended.uid), 5)
        again = await asyncio.wait_for(second.claim_recent(inbox, appended.uid), 5)

        await held.rollback()
    assert (claimed_before, again) == (0, appended.uid)
    assert (await second.status("INBOX")).recent_uid == appended.uid


async def test_a_first_claim_in_a_folder_deleted_meanwhile_finds_it_gone(two_nodes: list[Runtime]) -> None:
    if two_nodes[0].database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: a folder cannot go while a claim runs")
    (session,) = await sessions_of_one_mailbox(two_nodes, 1)
    await session.create_folder("Doomed")
    doomed = (await session.status("Doomed")).folder_id
    async with two_nodes[0].database.engine.connect() as deleting:
        await deleting.begin()
        await deleting.execute(delete(folders).where(folders.c.id == doomed))
        claim = asyncio.create_task(session.claim_recent(doomed, 1))
        await asyncio.sleep(0.3)  # it read the folder, and waits for its row to insert the first mark
        await deleting.commit()

    with pytest.raises(FolderNotFound):
        await asyncio.wait_for(claim, 5)


async def churn(session: MailSession, name: str, seconds: float, errors: list[BaseException]) -> int:
    """One writer's share of the mix, for `seconds`: APPEND (some read), COPY, MOVE, STORE + EXPUNGE,
    and a folder made, filled and deleted. How many operations it made."""
    rng = random.Random(name)
    inbox = (await session.status("INBOX")).folder_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    done = 0
    while loop.time() < deadline:
        try:
            await one_operation(session, name, inbox, rng)
        except EXPECTED:
            pass
        except Exception as error:  # a deadlock or a failed write: the test's finding
            errors.append(error)
        done += 1
    return done


async def one_operation(session: MailSession, name: str, inbox: int, rng: random.Random) -> None:
    kind = rng.choice(["append", "append", "copy", "move", "expunge", "folder"])
    if kind == "append":
        flags = frozenset({"\\Seen"}) if rng.random() < 0.7 else frozenset()
        await session.append(rng.choice(["INBOX", "Archive"]), message(f"{name}"), flags, None)
    elif kind == "copy":
        uids = [meta.uid for meta in (await session.open("INBOX")).messages][-3:]
        await session.copy(inbox, uids, "Archive")
    elif kind == "move":
        opened = await session.open("Archive")
        uids = [meta.uid for meta in opened.messages][:2]
        await session.move(opened.status.folder_id, uids, "INBOX")
    elif kind == "expunge":
        uids = [meta.uid for meta in (await session.open("INBOX")).messages][:2]
        await session.store_flags(inbox, uids, FlagChange.ADD, frozenset({"\\Deleted"}))
        await session.expunge(inbox)
    else:
        scratch = f"Scratch-{name}"
        await session.create_folder(scratch)
        await session.append(scratch, message("scratch"), frozenset({"\\Seen"}), None)
        await session.copy(inbox, [meta.uid for meta in (await session.open("INBOX")).messages][:2], scratch)
        await session.delete_folder(scratch)


async def churn_over_http(
    node: Runtime, mailbox: Mailbox, name: str, seconds: float, errors: list[BaseException]
) -> int:
    """The HTTP API's writes (through the unit of work) in the same mix: read or unread, and delete."""
    rng = random.Random(name)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    done = 0
    while loop.time() < deadline:
        try:
            found = await node.services.inbox.find(mailbox, MessageQuery(), 5)
            if found:
                uid = rng.choice(found).uid
                if rng.random() < 0.5:
                    await node.services.inbox.update(mailbox, uid, seen=rng.random() < 0.5)
                else:
                    await node.services.inbox.delete(mailbox, uid)
        except (NotFound, *EXPECTED):
            pass
        except Exception as error:  # a deadlock or a failed write: the test's finding
            errors.append(error)
        done += 1
    return done


async def test_writers_of_one_mailbox_on_two_nodes_never_deadlock_and_keep_the_quota_exact(
    two_nodes: list[Runtime],
) -> None:
    details = await paid_mailbox(two_nodes)
    sessions = await sessions_of(two_nodes, details, 6)
    mailbox = await two_nodes[1].services.inbox.authenticate(str(details["access_token"]))
    await sessions[0].create_folder("Archive")
    errors: list[BaseException] = []

    done = await asyncio.gather(
        *(churn(s, f"w{i}", SECONDS, errors) for i, s in enumerate(sessions)),
        *(churn_over_http(node, mailbox, f"h{i}", SECONDS, errors) for i, node in enumerate(two_nodes)),
    )

    assert errors == []
    assert sum(done) > 8 * 5
    async with two_nodes[0].database.engine.connect() as connection:
        stored = (await connection.execute(select(func.coalesce(func.sum(messages.c.size), 0)))).scalar_one()
        used = (await connection.execute(select(mailboxes.c.used_bytes))).scalars().all()
    assert used == [stored]
    assert 0 < stored <= QUOTA


async def test_appends_from_two_nodes_into_two_folders_fill_the_quota_exactly(
    database_dsn: str, tmp_path: Path, clock: FixedClock
) -> None:
    """The delivery writer reads a quota without locking it and counts its bytes last: when a writer
    of another folder took the room meanwhile, the group is written again with the mailbox locked."""
    size = len(message("w0 00"))
    fits = 20
    quota = {"mailbox_quota_bytes": fits * size, "retention_delete_oldest_read": False}
    async with running_nodes(database_dsn, tmp_path, clock, **quota) as nodes:
        sessions = await sessions_of_one_mailbox(nodes, 8)
        await sessions[0].create_folder("Archive")

        async def fill(session: MailSession, writer: int) -> int:
            stored = 0
            for number in range(8):
                folder = "INBOX" if writer % 2 else "Archive"
                try:
                    await session.append(folder, message(f"w{writer} {number:02}"), frozenset(), None)
                    stored += 1
                except MailboxFull:
                    pass
            return stored

        stored = await asyncio.gather(*(fill(s, i) for i, s in enumerate(sessions)))

        assert sum(stored) == fits
        async with nodes[0].database.engine.connect() as connection:
            sizes = (await connection.execute(select(messages.c.size))).scalars().all()
            used = (await connection.execute(select(mailboxes.c.used_bytes))).scalars().all()
        assert (len(sizes), used) == (fits, [fits * size])
