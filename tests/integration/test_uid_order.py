"""UIDs become visible in UID order per folder: a reader never learns of a uid below one it has seen.

Writers on two nodes (two runtimes on one database) append and now and then flag and expunge their own
message, while a reader on each node folds in `changes` as an IMAP session does and a cursor reader
pages the INBOX with `after_uid` as the HTTP API does. A uid that shows up below the highest one a reader
already saw would shift IMAP sequence numbers and be skipped for good by a uid cursor. The same run is
made on the in-memory store that the IMAP and POP3 engine tests use.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mailservice.bootstrap import Runtime, build_runtime
from mailservice.domain.clock import FixedClock
from mailservice.domain.mail_session import FlagChange, MailSession
from mailservice.domain.search import MessageQuery
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import text_message
from tests.support.memory_mail_session import MemoryMailSession, MemoryMailStore

DELETED = "\\Deleted"
APPENDS_PER_WRITER = 16
KEEP_ONE_IN = 4
"""On average one message in this many stays; its writer flags and expunges the others, so that
expunges often commit while a reader is reading."""
PAGE = 50

CursorPage = Callable[[int], Awaitable[list[int]]]
"""The uids after a cursor, ascending, at most a page: how the HTTP API's `after_uid` reads."""


@dataclass
class ReaderLog:
    """What one reader saw: every uid that showed up below one it had already seen, and every uid
    reported present after (or together with) its expunge."""

    seen: set[int] = field(default_factory=set)
    expunged: set[int] = field(default_factory=set)
    late: list[tuple[int, int]] = field(default_factory=list)
    """(uid, the highest uid seen before it)."""
    came_back: list[int] = field(default_factory=list)

    def fold(self, present: Sequence[int], expunged: Sequence[int] = ()) -> None:
        """One answer: the uids it reports present (new or changed) and the uids it reports expunged."""
        self.expunged.update(expunged)
        for uid in sorted(present):
            if uid in self.expunged:
                self.came_back.append(uid)
            elif uid not in self.seen:
                if self.seen and uid < max(self.seen):
                    self.late.append((uid, max(self.seen)))
                self.seen.add(uid)


@dataclass
class Outcome:
    appended: set[int] = field(default_factory=set)
    expunged: set[int] = field(default_factory=set)
    readers: list[ReaderLog] = field(default_factory=list)
    cursor_seen: set[int] = field(default_factory=set)


def message(subject: str) -> bytes:
    return text_message("writer@example.org", subject=subject).replace(b"\n", b"\r\n")


async def write(session: MailSession, name: str, outcome: Outcome, rng: random.Random) -> None:
    folder_id = (await session.status("INBOX")).folder_id
    for number in range(APPENDS_PER_WRITER):
        uid = (await session.append("INBOX", message(f"{name} {number}"), frozenset(), None)).uid
        outcome.appended.add(uid)
        if rng.randrange(KEEP_ONE_IN) != 0:
            await session.store_flags(folder_id, [uid], FlagChange.ADD, frozenset({DELETED}))
            outcome.expunged.update(await session.expunge(folder_id, [uid]))


async def read_changes(session: MailSession, log: ReaderLog, writing: asyncio.Event) -> None:
    """Folds in changes exactly as an IMAP session's view does: known modseq in, new uids out."""
    opened = await session.open("INBOX")
    folder_id, modseq = opened.status.folder_id, opened.status.highestmodseq
    log.fold([meta.uid for meta in opened.messages])
    while True:
        finished = not writing.is_set()
        changes = await session.changes(folder_id, modseq)
        log.fold([meta.uid for meta in changes.changed], changes.expunged)
        modseq = max(modseq, changes.highestmodseq)
        if finished:
            return
        await asyncio.sleep(0)


async def read_cursor(page: CursorPage, outcome: Outcome, writing: asyncio.Event) -> None:
    cursor = 0
    while True:
        finished = not writing.is_set()
        while found := await page(cursor):
            outcome.cursor_seen.update(found)
            cursor = found[-1]
        if finished:
            return
        await asyncio.sleep(0)


async def run_mixed_load(
    writers: Sequence[MailSession], readers: Sequence[MailSession], cursor: CursorPage | None
) -> Outcome:
    outcome = Outcome(readers=[ReaderLog() for _ in readers])
    writing = asyncio.Event()
    writing.set()
    reading = [
        asyncio.create_task(read_changes(session, log, writing))
        for session, log in zip(readers, outcome.readers, strict=True)
    ]
    if cursor is not None:
        reading.append(asyncio.create_task(read_cursor(cursor, outcome, writing)))
    try:
        await asyncio.gather(
            *(write(session, f"w{i}", outcome, random.Random(i)) for i, session in enumerate(writers))
        )
    finally:
        writing.clear()
    await asyncio.gather(*reading)
    return outcome


def assert_uids_visible_in_order(outcome: Outcome, with_cursor: bool) -> None:
    for log in outcome.readers:
        assert (log.late, log.came_back) == ([], [])
    if with_cursor:
        kept = outcome.appended - outcome.expunged
        assert kept and outcome.expunged
        assert kept - outcome.cursor_seen == set()


@pytest.fixture
async def two_nodes(database_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[list[Runtime]]:
    nodes = [await build_runtime(make_settings(database_dsn, tmp_path / name), clock) for name in ("a", "b")]
    yield nodes
    for node in nodes:
        await node.close()


async def test_uids_become_visible_in_order_with_writers_on_two_nodes(two_nodes: list[Runtime]) -> None:
    first, second = two_nodes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first.app), base_url=BASE_URL) as http:
        details = await claim_and_pay(http, AgentKey.generate())
    address, password = str(details["email"]), str(details["password"])
    sessions = [
        await node.services.mail_access.login(address, password, "127.0.0.1")
        for node in (first, second, first, second, first, second, first, second)
    ]
    mailbox = await second.services.inbox.authenticate(str(details["access_token"]))

    async def page(after_uid: int) -> list[int]:
        found = await second.services.inbox.find(mailbox, MessageQuery(), PAGE, after_uid=after_uid)
        return [message.uid for message in found]

    outcome = await run_mixed_load(sessions[:4], sessions[4:], page)

    assert len(outcome.appended) == 4 * APPENDS_PER_WRITER
    assert_uids_visible_in_order(outcome, with_cursor=True)


async def test_uids_become_visible_in_order_in_the_memory_store() -> None:
    store = MemoryMailStore("reader@agents.test")
    sessions = [MemoryMailSession(store) for _ in range(6)]

    outcome = await run_mixed_load(sessions[:4], sessions[4:], None)

    assert len(outcome.appended) == 4 * APPENDS_PER_WRITER
    assert_uids_visible_in_order(outcome, with_cursor=False)
