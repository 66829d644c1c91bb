"""QRESYNC, SORT and THREAD through the engine over the in-memory session (no Dovecot; the answers
are compared with Dovecot's in tests/interop)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.support.imap_messages import MULTIPART, NESTED, PLAIN
from tests.support.imap_wire import ADDRESS, PASSWORD, RunningImap, Wire, running_imap
from tests.support.memory_mail_session import MemoryMailLogin


@pytest.fixture
async def imap() -> AsyncIterator[RunningImap]:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD)
    for raw in (PLAIN, MULTIPART, NESTED):
        store.deliver(raw, internal_date=datetime(2026, 2, 2, tzinfo=UTC))
    async with running_imap(login) as running:
        yield running


async def logged_in(imap: RunningImap) -> Wire:
    wire = await Wire.connect(imap)
    await wire.login()
    return wire


def code(lines: list[bytes], name: bytes) -> int:
    found = next(
        re.search(rb"\[" + name + rb" (\d+)\]", line) for line in lines if b"[" + name + b" " in line
    )
    assert found is not None
    return int(found.group(1))


async def test_a_qresync_client_learns_what_changed_since_its_cache(imap: RunningImap) -> None:
    cached = await logged_in(imap)
    assert await cached.command(b"ENABLE QRESYNC") == [b"* ENABLED QRESYNC\r\n", b"t OK Enabled.\r\n"]
    selected = await cached.command(b"SELECT INBOX")
    uidvalidity, modseq = code(selected, b"UIDVALIDITY"), code(selected, b"HIGHESTMODSEQ")

    other = await logged_in(imap)
    await other.command(b"SELECT INBOX")
    await other.command(b"STORE 1 +FLAGS.SILENT (\\Flagged)")
    await other.command(b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    await other.command(b"EXPUNGE")
    noop = await cached.command(b"NOOP")
    assert b"* VANISHED 2\r\n" in noop and not any(b"EXPUNGE" in line for line in noop)

    fresh = await logged_in(imap)
    await fresh.command(b"ENABLE QRESYNC")
    resync = await fresh.command(b"EXAMINE INBOX (QRESYNC (%d %d))" % (uidvalidity, modseq))
    assert b"* VANISHED (EARLIER) 2\r\n" in resync
    (changed,) = [line for line in resync if b"FETCH" in line]
    assert changed.startswith(b"* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (")
    fetched = await fresh.command(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert fetched[0] == b"* VANISHED (EARLIER) 2\r\n"
    assert fetched[1].startswith(b"* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (")
    for wire in (cached, other, fresh):
        await wire.close()


async def test_qresync_arguments_before_enable_are_bad(imap: RunningImap) -> None:
    wire = await logged_in(imap)
    assert (await wire.command(b"SELECT INBOX (QRESYNC (1 1))"))[-1] == b"t BAD QRESYNC not enabled\r\n"
    await wire.command(b"SELECT INBOX")
    reply = await wire.command(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert reply[-1] == b"t BAD QRESYNC not enabled\r\n"
    await wire.close()


async def test_sort_esort_and_thread_answer(imap: RunningImap) -> None:
    wire = await logged_in(imap)
    await wire.command(b"EXAMINE INBOX")
    by_size = sorted((1, 2, 3), key=lambda number: -len((PLAIN, MULTIPART, NESTED)[number - 1]))
    sort = await wire.command(b"SORT (REVERSE SIZE) UTF-8 ALL")
    assert sort == [b"* SORT %d %d %d\r\n" % tuple(by_size), b"t OK Sort completed.\r\n"]
    same_date = await wire.command(b"SORT (REVERSE ARRIVAL) UTF-8 ALL")
    assert same_date[0] == b"* SORT 1 2 3\r\n"  # equal keys keep sequence order, REVERSE or not
    esort = await wire.command(b"UID SORT RETURN (MIN COUNT) (SIZE) US-ASCII ALL")
    assert re.fullmatch(rb'\* ESEARCH \(TAG "t"\) UID MIN \d COUNT 3\r\n', esort[0])
    thread = await wire.command(b"THREAD REFERENCES UTF-8 ALL")
    assert thread[0].startswith(b"* THREAD (") and thread[-1] == b"t OK Thread completed.\r\n"
    refused = await wire.command(b"SORT (SUBJECT) KOI8-R ALL")
    assert refused == [b"t NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.\r\n"]
    await wire.close()


async def test_arrival_compares_internal_dates_to_the_second_as_imap_gives_them() -> None:
    """Messages delivered within one second tie, so they keep sequence order under REVERSE ARRIVAL,
    as in Dovecot, whose internal dates are whole seconds."""
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD)
    for microsecond in (100, 200, 300):
        store.deliver(PLAIN, internal_date=datetime(2026, 2, 2, 10, 0, 0, microsecond, tzinfo=UTC))
    async with running_imap(login) as running:
        wire = await logged_in(running)
        await wire.command(b"EXAMINE INBOX")

        reverse = await wire.command(b"SORT (REVERSE ARRIVAL) UTF-8 ALL")
        by_date = await wire.command(b"SORT (REVERSE DATE) UTF-8 ALL")

        assert reverse[0] == by_date[0] == b"* SORT 1 2 3\r\n"
        await wire.close()


async def test_sort_keeps_read_keys_and_reads_those_of_new_messages() -> None:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD)
    for subject in (b"b", b"d"):
        store.deliver(b"Subject: " + subject + b"\r\n\r\nx\r\n")
    async with running_imap(login) as imap:
        wire = await logged_in(imap)
        await wire.command(b"SELECT INBOX")
        first = await wire.command(b"SORT (SUBJECT) UTF-8 ALL")
        store.deliver(b"Subject: Re: e\r\n\r\nx\r\n")
        store.deliver(b"Subject: c\r\n\r\nx\r\n")
        await wire.command(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        await wire.command(b"EXPUNGE")
        second = await wire.command(b"UID SORT (SUBJECT) UTF-8 ALL")
        await wire.close()

    assert first[0] == b"* SORT 1 2\r\n"
    assert second[0] == b"* SORT 4 2 3\r\n"  # c d e: the new messages' keys were read too
