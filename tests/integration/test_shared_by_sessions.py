"""What the sessions of one folder on a node share. On PostgreSQL its changes reads (one statement per
folder at a time), and each session still sees every change committed before it asked, whichever node
made it. On both databases the `\\Recent` claims under way: sessions that learn of the same new
messages at once send one claim, and one of them gets the messages as recent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mailservice.adapters.db.folder_reads import CHANGES
from mailservice.bootstrap import Runtime
from mailservice.domain.clock import FixedClock
from mailservice.domain.mail_session import FlagChange
from tests.integration.test_write_locks import message, paid_mailbox, running_nodes, sessions_of


@pytest.fixture
async def nodes(database_dsn: str, tmp_path: Path, clock: FixedClock) -> Any:
    async with running_nodes(database_dsn, tmp_path, clock) as started:
        yield started


def held_changes_reads(node: Runtime) -> tuple[list[object], asyncio.Event, asyncio.Event]:
    """Every `CHANGES` read of `node` from now on takes its snapshot, sets the second event, and then
    waits for the third before it answers; the list counts them."""
    database = node.database
    original = database.read_statement
    reads: list[object] = []
    taken, let_go = asyncio.Event(), asyncio.Event()

    async def held(statement: Any, parameters: Any) -> list[Any]:
        rows = await original(statement, parameters)
        if statement is CHANGES:
            reads.append(parameters)
            taken.set()
            await let_go.wait()
        return rows

    database.read_statement = held  # type: ignore[method-assign]
    return reads, taken, let_go


async def test_sessions_asking_while_a_read_runs_share_one_read_that_sees_what_was_committed_meanwhile(
    nodes: list[Runtime],
) -> None:
    if nodes[0].database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite reads the changes on the event loop in microseconds: nothing to share")
    details = await paid_mailbox(nodes)
    first, *later = await sessions_of(nodes[:1], details, 6)
    (elsewhere,) = await sessions_of(nodes[1:], details, 1)
    appended = await first.append("INBOX", message("shared"), frozenset(), None)
    inbox = (await first.status("INBOX")).folder_id
    known = (await first.changes(inbox, 0)).highestmodseq
    for session in later:
        await session.open("INBOX")  # as SELECT: what it asks next is since then
    reads, taken, let_go = held_changes_reads(nodes[0])

    running = asyncio.create_task(first.changes(inbox, known))
    await asyncio.wait_for(taken.wait(), 5)
    await elsewhere.store_flags(inbox, [appended.uid], FlagChange.ADD, frozenset({"$After"}))
    asking = [asyncio.create_task(session.changes(inbox, known)) for session in later]
    await asyncio.sleep(0.2)
    assert len(reads) == 1, "a read waits for the one under way"
    let_go.set()

    assert (await running).changed == ()
    for told in await asyncio.gather(*asking):
        assert {meta.uid: meta.flags for meta in told.changed} == {appended.uid: frozenset({"$After"})}
    assert len(reads) == 2


async def test_a_session_asking_since_less_than_it_last_asked_reads_on_its_own(nodes: list[Runtime]) -> None:
    """A client's own modseq (QRESYNC): the folder's whole history, which no other session should wait
    for or sift."""
    if nodes[0].database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite reads the changes on the event loop in microseconds: nothing to share")
    first, resyncing = await sessions_of(nodes[:1], await paid_mailbox(nodes), 2)
    appended = await first.append("INBOX", message("old"), frozenset(), None)
    inbox = (await first.status("INBOX")).folder_id
    known = (await first.changes(inbox, 0)).highestmodseq
    await resyncing.changes(inbox, known)
    reads, taken, let_go = held_changes_reads(nodes[0])

    running = asyncio.create_task(first.changes(inbox, known))
    await asyncio.wait_for(taken.wait(), 5)
    resynced = asyncio.create_task(resyncing.changes(inbox, 0))
    await asyncio.sleep(0.2)
    assert len(reads) == 2, "it does not wait for the read under way"
    let_go.set()
    assert [meta.uid for meta in (await resynced).changed] == [appended.uid]
    assert (await running).changed == ()


@contextmanager
def counted_writes(node: Runtime) -> Iterator[list[object]]:
    """The writes `node` makes meanwhile, of either kind (`run_write`, `write_statement`)."""
    database = node.database
    writes: list[object] = []
    originals = {name: getattr(database, name) for name in ("run_write", "write_statement")}

    def counting(name: str) -> Callable[..., Awaitable[Any]]:
        async def write(*arguments: Any, **named: Any) -> Any:
            writes.append(name)
            return await originals[name](*arguments, **named)

        return write

    for name in originals:
        setattr(database, name, counting(name))
    try:
        yield writes
    finally:
        for name in originals:
            delattr(database, name)


async def test_sessions_learning_of_new_messages_at_once_send_one_claim_and_one_gets_them_as_recent(
    nodes: list[Runtime],
) -> None:
    sessions = await sessions_of(nodes[:1], await paid_mailbox(nodes), 8)
    for number in range(3):
        await sessions[0].append("INBOX", message(f"new {number}"), frozenset(), None)
    changes = await sessions[0].changes((await sessions[0].status("INBOX")).folder_id, 0)
    newest = max(meta.uid for meta in changes.changed)
    inbox = (await sessions[0].status("INBOX")).folder_id

    with counted_writes(nodes[0]) as writes:
        marks = await asyncio.gather(
            *(session.claim_recent(inbox, newest, changes.recent_uid) for session in sessions)
        )

    assert len(writes) == 1
    assert sorted(marks) == [0] + [newest] * 7, "one session takes them all"
    assert (await sessions[0].changes(inbox, 0)).recent_uid == newest
