"""The contract of `MailSession`, the store port of IMAP and POP3, run against every implementation:
the store on SQLite and on PostgreSQL, and the in-memory store the protocol engine tests use, so that
what those tests assume is what the real store does.

Only the port is used here: flags and keywords, modseqs, changes seen by another session (with the flags
of what was expunged), expunge, copy, move, appending several messages at once, the recent mark and the
quota.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.tables import messages
from mailservice.bootstrap import build_runtime
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import FolderNotFound, MailboxFull
from mailservice.domain.mail_session import FlagChange, MailSession, NewMessage
from mailservice.mime.common_fields import common_fields
from mailservice.mime.sort_keys import sort_keys_of
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.databases import empty_postgres_database, sqlite_copy
from tests.support.keys import AgentKey
from tests.support.mail import text_message
from tests.support.memory_mail_session import MemoryMailSession, MemoryMailStore

SEEN = "\\Seen"
DELETED = "\\Deleted"
FLAGGED = "\\Flagged"
QUOTA_BYTES = 20_000


@dataclass
class StoreUnderTest:
    session: MailSession
    login: Callable[[], Awaitable[MailSession]]
    """Another session of the same mailbox."""
    dsn: str | None = None
    """The database of a store over SQL."""


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[StoreUnderTest]:
    if request.param == "memory":
        mailbox = MemoryMailStore("contract@agents.test", quota_bytes=QUOTA_BYTES)

        async def memory_login() -> MailSession:
            return MemoryMailSession(mailbox)

        yield StoreUnderTest(await memory_login(), memory_login)
        return
    if request.param == "sqlite":
        dsn = sqlite_copy(request.getfixturevalue("sqlite_template_path"), tmp_path)
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        empty_postgres_database(dsn)
    runtime = await build_runtime(make_settings(dsn, tmp_path, mailbox_quota_bytes=QUOTA_BYTES), clock)
    try:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            details = await claim_and_pay(http, AgentKey.generate())

        async def sql_login() -> MailSession:
            access = runtime.services.mail_access
            return await access.login(str(details["email"]), str(details["password"]), "127.0.0.1")

        yield StoreUnderTest(await sql_login(), sql_login, dsn)
    finally:
        await runtime.close()


def flags(*names: str) -> frozenset[str]:
    return frozenset(names)


def message(subject: str) -> bytes:
    return text_message("someone@example.org", subject=subject).replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class CopiedToKept:
    inbox_id: int
    uid: int
    kept_id: int
    copy_uid: int


async def appended_and_copied_to_kept(session: MailSession, raw: bytes) -> CopiedToKept:
    """`raw` appended to INBOX and copied into a new folder "Kept"."""
    appended = await session.append("INBOX", raw, frozenset(), None)
    await session.create_folder("Kept")
    inbox = await session.status("INBOX")
    copied = await session.copy(inbox.folder_id, [appended.uid], "Kept")
    kept = await session.status("Kept")
    return CopiedToKept(inbox.folder_id, appended.uid, kept.folder_id, copied.target_uids[0])


async def filled_inbox(session: MailSession, *subjects: str) -> int:
    for subject in subjects:
        await session.append("INBOX", message(subject), frozenset(), None)
    return (await session.status("INBOX")).folder_id


async def test_appends_get_ascending_uids_and_raise_the_modseq(store: StoreUnderTest) -> None:
    session = store.session
    before = await session.status("INBOX")

    first = await session.append("INBOX", message("a"), frozenset({SEEN, "\\Recent"}), None)
    second = await session.append("inbox", message("b"), frozenset({"$Label"}), None)

    opened = await session.open("INBOX")
    assert second.uid == first.uid + 1 == before.uidnext + 1
    assert first.uidvalidity == opened.status.uidvalidity
    assert [(m.uid, m.flags) for m in opened.messages] == [
        (first.uid, flags(SEEN)),
        (second.uid, flags("$Label")),
    ]
    assert before.highestmodseq < opened.messages[0].modseq < opened.messages[1].modseq
    assert opened.status.highestmodseq == opened.messages[1].modseq
    assert (opened.status.messages, opened.status.unseen, opened.status.uidnext) == (2, 1, second.uid + 1)


async def test_flag_changes_give_one_new_modseq_and_skip_what_does_not_change(
    store: StoreUnderTest,
) -> None:
    session = store.session
    folder = await filled_inbox(session, "a", "b", "c")
    start = (await session.status("INBOX")).highestmodseq

    added = await session.store_flags(folder, [1, 2], FlagChange.ADD, frozenset({SEEN, "$Work"}))
    again = await session.store_flags(folder, [1, 2], FlagChange.ADD, frozenset({SEEN}))
    removed = await session.store_flags(folder, [2], FlagChange.REMOVE, frozenset({"$Work", "\\Recent"}))
    replaced = await session.store_flags(folder, [3], FlagChange.REPLACE, frozenset({FLAGGED, "\\Recent"}))

    assert [(m.uid, m.flags) for m in added.updated] == [(1, flags(SEEN, "$Work")), (2, flags(SEEN, "$Work"))]
    assert {m.modseq for m in added.updated} == {start + 1}
    assert again.updated == ()
    assert [(m.uid, m.flags, m.modseq) for m in removed.updated] == [(2, flags(SEEN), start + 2)]
    assert [(m.uid, m.flags, m.modseq) for m in replaced.updated] == [(3, flags(FLAGGED), start + 3)]
    assert (await session.status("INBOX")).highestmodseq == start + 3


async def test_a_flag_change_tells_the_changes_since_a_modseq_as_they_were_before_it(
    store: StoreUnderTest,
) -> None:
    """What a STORE answers with: other sessions' changes, read before its own are written."""
    session = store.session
    folder = await filled_inbox(session, "a", "b", "c")
    other = await store.login()
    known = (await session.status("INBOX")).highestmodseq
    await other.store_flags(folder, [2], FlagChange.ADD, frozenset({"$Other"}))
    await other.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED}))
    await other.expunge(folder)
    expected = await session.changes(folder, known)

    stored = await session.store_flags(folder, [2, 3], FlagChange.ADD, frozenset({SEEN}), changes_since=known)

    assert stored.before == expected
    assert [(m.uid, m.flags) for m in stored.before.changed] == [(2, flags("$Other"))]
    assert stored.before.expunged == (1,)
    assert [(m.uid, m.flags) for m in stored.updated] == [(2, flags(SEEN, "$Other")), (3, flags(SEEN))]
    assert (await session.store_flags(folder, [3], FlagChange.ADD, frozenset({SEEN}))).before is None


async def test_a_flag_change_asked_for_changes_of_a_folder_gone_finds_it_gone(store: StoreUnderTest) -> None:
    session = store.session
    await session.create_folder("Going")
    folder = (await session.status("Going")).folder_id
    await session.delete_folder("Going")

    with pytest.raises(FolderNotFound):
        await session.store_flags(folder, [1], FlagChange.ADD, frozenset({SEEN}), changes_since=0)


async def test_unchangedsince_refuses_messages_changed_after_it(store: StoreUnderTest) -> None:
    session = store.session
    folder = await filled_inbox(session, "a", "b")
    known = (await session.status("INBOX")).highestmodseq
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({SEEN}))

    stored = await session.store_flags(
        folder, [1, 2], FlagChange.ADD, frozenset({FLAGGED}), unchanged_since=known
    )

    assert stored.modified == (1,)
    assert [(m.uid, m.flags) for m in stored.updated] == [(2, flags(FLAGGED))]


async def test_another_session_learns_of_new_reflagged_and_expunged_messages(
    store: StoreUnderTest,
) -> None:
    session = store.session
    folder = await filled_inbox(session, "a", "b", "c")
    other = await store.login()
    seen = await other.open("INBOX")

    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED}))
    await session.store_flags(folder, [2], FlagChange.ADD, frozenset({SEEN}))
    expunged = await session.expunge(folder)
    await session.append("INBOX", message("d"), frozenset(), None)

    changes = await other.changes(folder, seen.status.highestmodseq)
    assert expunged == [1]
    assert changes.expunged == (1,)
    assert [(m.uid, m.flags) for m in changes.changed] == [(2, flags(SEEN)), (4, flags())]
    assert (changes.uidnext, changes.uidvalidity) == (5, seen.status.uidvalidity)
    assert changes.highestmodseq == (await session.status("INBOX")).highestmodseq
    nothing_new = await other.changes(folder, changes.highestmodseq)
    assert (nothing_new.changed, nothing_new.expunged) == ((), ())


async def test_expunge_removes_only_deleted_messages_among_the_uids_and_frees_the_quota(
    store: StoreUnderTest,
) -> None:
    session = store.session
    folder = await filled_inbox(session, "a", "b", "c")
    await session.store_flags(folder, [1, 2], FlagChange.ADD, frozenset({DELETED}))
    before = await session.quota()

    assert await session.expunge(folder, [2, 3]) == [2]
    assert await session.expunge(folder) == [1]
    assert await session.expunge(folder) == []

    after = await session.quota()
    assert [m.uid for m in (await session.open("INBOX")).messages] == [3]
    assert after.used_bytes == (await session.status("INBOX")).size
    assert before.used_bytes - after.used_bytes > 0


async def test_copy_gives_new_uids_keeps_flags_and_counts_against_the_quota(
    store: StoreUnderTest,
) -> None:
    session = store.session
    inbox = await filled_inbox(session, "a", "b")
    await session.store_flags(inbox, [2], FlagChange.ADD, frozenset({SEEN}))
    await session.create_folder("Archive")
    await session.append("Archive", message("already there"), frozenset(), None)
    before = await session.quota()

    copied = await session.copy(inbox, [1, 2, 99], "Archive")

    archive = await session.open("Archive")
    assert (copied.source_uids, copied.target_uids) == ((1, 2), (2, 3))
    assert copied.uidvalidity == archive.status.uidvalidity
    assert [(m.uid, m.flags) for m in archive.messages][1:] == [(2, flags()), (3, flags(SEEN))]
    assert len((await session.open("INBOX")).messages) == 2
    after = await session.quota()
    copies = sum(meta.size for meta in archive.messages[1:])
    assert after.used_bytes == before.used_bytes + copies
    with pytest.raises(FolderNotFound):
        await session.copy(inbox, [1], "Nowhere")


async def test_move_expunges_the_sources_and_leaves_the_quota_as_it_was(store: StoreUnderTest) -> None:
    session = store.session
    inbox = await filled_inbox(session, "a", "b", "c")
    await session.create_folder("Archive")
    watcher = await store.login()
    seen = await watcher.open("INBOX")
    before = await session.quota()

    moved = await session.move(inbox, [1, 3], "Archive")

    assert (moved.source_uids, moved.target_uids) == ((1, 3), (1, 2))
    assert [m.uid for m in (await session.open("INBOX")).messages] == [2]
    assert [m.uid for m in (await session.open("Archive")).messages] == [1, 2]
    assert (await watcher.changes(inbox, seen.status.highestmodseq)).expunged == (1, 3)
    assert await session.quota() == before


async def test_the_quota_for_an_append_is_read_with_its_folder(store: StoreUnderTest) -> None:
    session = store.session
    await session.create_folder("Archive")

    assert await session.quota_for_append("Archive") == await session.quota()
    with pytest.raises(FolderNotFound):
        await session.quota_for_append("Nowhere")


async def test_the_quota_refuses_an_append_or_a_copy_past_it_but_not_a_move(store: StoreUnderTest) -> None:
    session = store.session
    inbox = await filled_inbox(session, "a")
    await session.create_folder("Archive")
    quota = await session.quota()
    filler = b"x" * (quota.limit_bytes - quota.used_bytes - 10)
    await session.append("Archive", filler, frozenset(), None)

    with pytest.raises(MailboxFull):
        await session.append("INBOX", message("too much"), frozenset(), None)
    with pytest.raises(MailboxFull):
        await session.copy(inbox, [1], "Archive")
    moved = await session.move(inbox, [1], "Archive")

    assert moved.target_uids == (2,)
    full = await session.quota()
    assert (full.used_bytes, full.limit_bytes) == (quota.limit_bytes - 10, QUOTA_BYTES)


async def test_append_all_stores_every_message_in_order_or_none(store: StoreUnderTest) -> None:
    session = store.session
    before = await session.status("INBOX")

    appended = await session.append_all(
        "INBOX", [NewMessage(message("a")), NewMessage(message("b"), flags(SEEN, "\\Recent"))]
    )

    opened = await session.open("INBOX")
    assert appended.uids == (before.uidnext, before.uidnext + 1)
    assert appended.uidvalidity == opened.status.uidvalidity
    assert [(m.uid, m.flags) for m in opened.messages] == [
        (appended.uids[0], flags()),
        (appended.uids[1], flags(SEEN)),
    ]
    too_much = [NewMessage(message("c")), NewMessage(b"x" * QUOTA_BYTES)]
    with pytest.raises(MailboxFull):
        await session.append_all("INBOX", too_much)
    with pytest.raises(FolderNotFound):
        await session.append_all("Nowhere", [NewMessage(message("d"))])
    assert len((await session.open("INBOX")).messages) == 2


async def test_the_recent_mark_gives_each_message_to_one_session_and_never_goes_down(
    store: StoreUnderTest,
) -> None:
    folder = await filled_inbox(store.session, "a", "b", "c", "d")
    fresh = await store.session.status("INBOX")
    others = [await store.login() for _ in range(3)]

    marks = await asyncio.gather(*(other.claim_recent(folder, up_to) for other in others for up_to in (2, 4)))

    claimed = [
        uid for mark, up_to in zip(marks, [2, 4] * 3, strict=True) for uid in range(mark + 1, up_to + 1)
    ]
    assert (fresh.recent_uid, fresh.recent) == (0, 4)
    assert sorted(claimed) == [1, 2, 3, 4]
    assert await store.session.claim_recent(folder, 3) == 4
    status = await store.session.status("INBOX")
    assert (status.recent_uid, status.recent) == (4, 0)
    assert (await store.session.changes(folder, 0)).recent_uid == 4


async def test_a_claim_from_a_mark_read_before_another_claim_takes_only_what_is_left(
    store: StoreUnderTest,
) -> None:
    """The mark a session last read is tried first; when another session has raised it since, the
    claim starts from the mark as it is (the first claim of a folder, from 0, too)."""
    folder = await filled_inbox(store.session, "a", "b", "c", "d", "e", "f", "g")
    others = [await store.login() for _ in range(4)]

    marks = await asyncio.gather(
        *(other.claim_recent(folder, up_to, 0) for other, up_to in zip(others, (2, 3, 5, 4), strict=True))
    )

    claimed = [
        uid for mark, up_to in zip(marks, (2, 3, 5, 4), strict=True) for uid in range(mark + 1, up_to + 1)
    ]
    assert sorted(claimed) == [1, 2, 3, 4, 5]
    assert await store.session.claim_recent(folder, 5, 0) == 5
    assert await store.session.claim_recent(folder, 5, 5) == 5
    assert await store.session.claim_recent(folder, 7, 6) == 5  # a mark read higher than it is
    assert (await store.session.changes(folder, 0)).recent_uid == 7


async def test_changes_give_the_flags_a_message_was_expunged_or_moved_with(store: StoreUnderTest) -> None:
    session = store.session
    folder = await filled_inbox(session, "a", "b", "c")
    await session.create_folder("Archive")
    other = await store.login()
    seen = await other.open("INBOX")
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED, SEEN}))
    await session.store_flags(folder, [2], FlagChange.ADD, frozenset({FLAGGED, "$Work"}))

    await session.expunge(folder)
    await session.move(folder, [2], "Archive")

    changes = await other.changes(folder, seen.status.highestmodseq)
    assert changes.expunged == (1, 2)
    assert dict(changes.last_flags) == {1: flags(DELETED, SEEN), 2: flags(FLAGGED, "$Work")}


async def test_sort_keys_are_kept_from_delivery_and_follow_copies(store: StoreUnderTest) -> None:
    session = store.session
    raw = (
        b"From: =?utf-8?q?=C3=89mile?= <emile@example.org>\r\nTo: b@example.org\r\n"
        b"Subject: Re: [list] Fwd: Caf\xc3\xa9\r\nDate: Thu, 5 Feb 2026 10:00:00 +0100\r\n\r\nbody\r\n"
    )
    stored = await appended_and_copied_to_kept(session, raw)

    keys = await session.sort_keys(stored.inbox_id, [stored.uid, stored.uid + 1])
    copy_keys = await session.sort_keys(stored.kept_id, [stored.copy_uid])

    assert keys == {stored.uid: sort_keys_of(raw[: raw.index(b"\r\n\r\n") + 4])}
    assert keys[stored.uid].subject == "CAFE\u0301"
    assert keys[stored.uid].display_from == "E\u0301MILE"
    assert copy_keys == {stored.copy_uid: keys[stored.uid]}


async def test_status_counts_deleted_messages(store: StoreUnderTest) -> None:
    session = store.session
    folder_id = await filled_inbox(session, "a", "b", "c")
    uids = [meta.uid for meta in (await session.open("INBOX")).messages]

    await session.store_flags(folder_id, uids[:2], FlagChange.ADD, flags(DELETED), None)

    assert (await session.status("INBOX")).deleted == 2


async def test_sort_keys_of_messages_stored_before_they_were_kept_come_from_the_header(
    store: StoreUnderTest,
) -> None:
    if store.dsn is None:
        pytest.skip("the in-memory store computes every message's keys")
    session = store.session
    folder_id = await filled_inbox(session, "Re: older", "newer")
    uids = [meta.uid for meta in (await session.open("INBOX")).messages]
    kept = await session.sort_keys(folder_id, uids)
    engine = create_async_engine(async_database_url(store.dsn))
    async with engine.begin() as connection:
        await connection.execute(update(messages).where(messages.c.uid == uids[0]).values(sort_subject=None))
    await engine.dispose()

    computed = await session.sort_keys(folder_id, uids)

    assert computed == kept
    assert computed[uids[0]].subject == "OLDER"


async def test_common_fields_are_kept_from_delivery_follow_copies_and_leave_out_missing_uids(
    store: StoreUnderTest,
) -> None:
    session = store.session
    raw = b"Received: from x\r\nFrom: a@example.org\r\nSubject: folded\r\n line\r\nX-Other: y\r\n\r\nbody\r\n"
    stored = await appended_and_copied_to_kept(session, raw)

    found = await session.common_fields(stored.inbox_id, [stored.uid, stored.uid + 1])
    copy_found = await session.common_fields(stored.kept_id, [stored.copy_uid])

    expected = common_fields(raw[: raw.index(b"\r\n\r\n") + 4])
    assert expected[0] == b"From: a@example.org\r\nSubject: folded\r\n line\r\n"
    assert [tuple(row) for row in found.common] == [(stored.uid, *expected)] and found.headers == {}
    assert [tuple(row) for row in copy_found.common] == [(stored.copy_uid, *expected)]
