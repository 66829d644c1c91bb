"""The store-backed mail session that IMAP and POP3 use, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mailservice.adapters.db.folder_reads import CHANGES
from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from mailservice.domain.errors import (
    AuthenticationFailed,
    FolderExists,
    FolderNotAllowed,
    FolderNotFound,
    MailboxFull,
    RateLimited,
)
from mailservice.domain.mail_session import FlagChange, MailSession, StructureItem
from mailservice.mime import section_bytes
from mailservice.mime.sections import stored_parts
from tests.support.agent import claim, claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import text_message, used_bytes

SEEN = "\\Seen"
DELETED = "\\Deleted"
MULTIPART = (
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n<p>second</p>\r\n--b--\r\n"
)


@dataclass(frozen=True)
class Account:
    mailbox_id: str
    address: str
    login: str
    password: str
    access_token: str


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    details = await claim_and_pay(client, AgentKey.generate())
    return Account(
        str(details["mailbox_id"]),
        str(details["email"]),
        str(details["username"]),
        str(details["password"]),
        str(details["access_token"]),
    )


@pytest.fixture
async def session(runtime: Runtime, account: Account) -> AsyncIterator[MailSession]:
    yield await runtime.services.mail_access.login(account.address, account.password, "127.0.0.1")


def message(subject: str) -> bytes:
    return text_message("someone@example.org", subject=subject).replace(b"\n", b"\r\n")


async def test_login_accepts_the_address_or_the_bare_login(runtime: Runtime, account: Account) -> None:
    access = runtime.services.mail_access
    by_address = await access.login(account.address.upper(), account.password, "127.0.0.1")
    by_login = await access.login(account.login, account.password, "127.0.0.1")
    assert by_address.address == by_login.address == account.address


async def test_login_refuses_a_wrong_password_and_then_rate_limits_the_peer(
    runtime: Runtime, account: Account, settings: Settings
) -> None:
    access = runtime.services.mail_access
    for _ in range(settings.login_failures_per_ip_and_login):
        with pytest.raises(AuthenticationFailed):
            await access.login(account.address, "wrong", "192.0.2.7")
    with pytest.raises(RateLimited):
        await access.login(account.address, account.password, "192.0.2.7")
    assert (await access.login(account.address, account.password, "192.0.2.8")).address == account.address


async def test_login_refuses_an_unpaid_mailbox(runtime: Runtime, client: httpx.AsyncClient) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    mailbox = await runtime.services.mailboxes.current(claimed["id"])
    assert mailbox is not None
    password = runtime.services.credentials.mail_password(mailbox)
    with pytest.raises(AuthenticationFailed, match="not active"):
        await runtime.services.mail_access.login(mailbox.login, password, "127.0.0.1")


async def test_append_then_open_reports_messages_flags_and_status(session: MailSession) -> None:
    first = await session.append("inbox", message("one"), frozenset({SEEN, "\\Recent"}), None)
    second = await session.append("INBOX", message("two"), frozenset(), datetime(2026, 1, 2, tzinfo=UTC))

    opened = await session.open("INBOX")

    assert (first.uid, second.uid) == (1, 2)
    assert first.uidvalidity == opened.status.uidvalidity
    assert [m.uid for m in opened.messages] == [1, 2]
    assert opened.messages[0].flags == {SEEN}
    assert opened.messages[1].internal_date == datetime(2026, 1, 2, tzinfo=UTC)
    assert (opened.status.messages, opened.status.unseen, opened.status.uidnext) == (2, 1, 3)
    assert opened.status.size == sum(m.size for m in opened.messages)


async def test_append_counts_against_the_quota_and_needs_an_existing_folder(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    raw = message("big")
    await session.append("INBOX", raw, frozenset(), None)
    assert await used_bytes(runtime, account.mailbox_id) == len(raw)
    with pytest.raises(FolderNotFound):
        await session.append("Nowhere", raw, frozenset(), None)
    quota = await session.quota()
    assert quota.used_bytes == len(raw)
    with pytest.raises(MailboxFull):
        await session.append("INBOX", b"x" * (quota.limit_bytes - quota.used_bytes + 1), frozenset(), None)


async def test_flags_change_with_a_new_modseq_and_unchangedsince_reports_modified(
    session: MailSession,
) -> None:
    for subject in ("a", "b", "c"):
        await session.append("INBOX", message(subject), frozenset(), None)
    opened = await session.open("INBOX")
    folder = opened.status.folder_id

    added = await session.store_flags(folder, [1, 2], FlagChange.ADD, frozenset({SEEN, "$Label"}))
    again = await session.store_flags(folder, [1], FlagChange.ADD, frozenset({SEEN}))
    replaced = await session.store_flags(
        folder,
        [1, 2, 3],
        FlagChange.REPLACE,
        frozenset({"\\Flagged"}),
        unchanged_since=opened.status.highestmodseq,
    )

    assert [m.uid for m in added.updated] == [1, 2]
    assert added.updated[0].flags == {SEEN, "$Label"}
    assert added.updated[0].modseq > opened.status.highestmodseq
    assert again.updated == ()
    assert replaced.modified == (1, 2)
    assert [(m.uid, m.flags) for m in replaced.updated] == [(3, frozenset({"\\Flagged"}))]


async def test_changes_tell_another_session_of_new_reflagged_and_expunged_messages(
    runtime: Runtime, session: MailSession, account: Account, client: httpx.AsyncClient
) -> None:
    for subject in ("a", "b", "c"):
        await session.append("INBOX", message(subject), frozenset(), None)
    other = await runtime.services.mail_access.login(account.address, account.password, "127.0.0.1")
    seen_by_other = await other.open("INBOX")
    folder = seen_by_other.status.folder_id

    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED}))
    await session.store_flags(folder, [2], FlagChange.ADD, frozenset({SEEN}))
    expunged = await session.expunge(folder)
    await session.append("INBOX", message("d"), frozenset(), None)
    deleted = await client.delete(
        "/v1/messages/3", headers={"Authorization": f"Bearer {account.access_token}"}
    )

    changes = await other.changes(folder, seen_by_other.status.highestmodseq)
    assert deleted.status_code in (200, 204), deleted.text
    assert expunged == [1]
    assert changes.expunged == (1, 3)
    assert [(m.uid, m.flags) for m in changes.changed] == [(2, frozenset({SEEN})), (4, frozenset())]
    assert changes.uidnext == 5


async def test_after_its_own_write_a_session_is_told_every_change_once_and_in_order(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    """The changes after a session's own STORE, EXPUNGE or COPY are read with the write on SQLite: they
    must tell what others did before it, and what others do after it must come with the next read."""
    for subject in ("a", "b", "c", "d"):
        await session.append("INBOX", message(subject), frozenset(), None)
    await session.create_folder("Archive")
    other = await runtime.services.mail_access.login(account.address, account.password, "127.0.0.1")
    opened = await session.open("INBOX")
    folder = opened.status.folder_id
    told = opened.status.highestmodseq

    await other.store_flags(folder, [2], FlagChange.ADD, frozenset({SEEN}))
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED}))
    await other.store_flags(folder, [3], FlagChange.ADD, frozenset({SEEN}))
    after_store = await session.changes(folder, told)
    assert [(m.uid, m.flags) for m in after_store.changed][:2] == [
        (1, frozenset({DELETED})),
        (2, frozenset({SEEN})),
    ]
    then = await session.changes(folder, after_store.highestmodseq)
    assert {m.uid for m in then.changed} <= {3}
    assert {m.uid for m in (*after_store.changed, *then.changed)} == {1, 2, 3}

    await session.expunge(folder)
    await session.copy(folder, [4], "Archive")
    await other.store_flags(folder, [4], FlagChange.ADD, frozenset({SEEN}))
    told = then.highestmodseq
    seen = await session.changes(folder, told)
    rest = await session.changes(folder, seen.highestmodseq)
    assert (*seen.expunged, *rest.expunged) == (1,)
    assert [(m.uid, m.flags) for m in (*seen.changed, *rest.changed) if m.uid == 4][-1] == (
        4,
        frozenset({SEEN}),
    )
    assert (await session.changes(folder, rest.highestmodseq)).changed == ()


async def test_on_sqlite_the_changes_after_a_sessions_own_write_are_not_read_again(
    runtime: Runtime, session: MailSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a STORE runs (changes read before it, then after it since the same modseq) and as an EXPUNGE
    runs (changes after it since what the session was told): the read after the write is the write's."""
    if runtime.database.url.get_backend_name() != "sqlite":
        pytest.skip("on PostgreSQL a write does not read the changes under the folder's lock")
    for subject in ("a", "b"):
        await session.append("INBOX", message(subject), frozenset(), None)
    opened = await session.open("INBOX")
    folder, told = opened.status.folder_id, opened.status.highestmodseq
    asked: list[object] = []
    read_statement = runtime.database.read_statement

    async def counted(statement: Any, parameters: Any, **options: Any) -> list[Any]:
        if statement is CHANGES:
            asked.append(parameters)
        return await read_statement(statement, parameters, **options)

    monkeypatch.setattr(runtime.database, "read_statement", counted)

    before = await session.changes(folder, told)
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED}))
    after_store = await session.changes(folder, told)
    await session.expunge(folder)
    after_expunge = await session.changes(folder, after_store.highestmodseq)

    assert len(asked) == 1
    assert before.changed == ()
    assert [(m.uid, m.flags) for m in after_store.changed] == [(1, frozenset({DELETED}))]
    assert (after_expunge.expunged, after_expunge.changed) == ((1,), ())


async def test_a_failed_write_leaves_no_changes_read_ahead(session: MailSession) -> None:
    await session.append("INBOX", message("a"), frozenset(), None)
    opened = await session.open("INBOX")
    folder = opened.status.folder_id
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({SEEN}))
    with pytest.raises(FolderNotFound):
        await session.copy(folder, [1], "Nowhere")

    changes = await session.changes(folder, opened.status.highestmodseq)

    assert [(m.uid, m.flags) for m in changes.changed] == [(1, frozenset({SEEN}))]


async def test_each_message_is_claimed_as_recent_by_one_session_only(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    for subject in ("a", "b", "c", "d"):
        await session.append("INBOX", message(subject), frozenset(), None)
    others = [
        await runtime.services.mail_access.login(account.address, account.password, "127.0.0.1")
        for _ in range(4)
    ]
    folder = (await session.open("INBOX")).status.folder_id

    marks = await asyncio.gather(*(other.claim_recent(folder, up_to) for other in others for up_to in (2, 4)))

    claimed = [
        uid for mark, up_to in zip(marks, [2, 4] * 4, strict=True) for uid in range(mark + 1, up_to + 1)
    ]
    assert sorted(claimed) == [1, 2, 3, 4]
    status = await session.status("INBOX")
    assert (status.recent_uid, status.recent) == (4, 0)


async def test_a_session_cannot_claim_in_another_mailbox_s_folder(
    runtime: Runtime, session: MailSession, client: httpx.AsyncClient
) -> None:
    await session.append("INBOX", message("a"), frozenset(), None)
    folder = (await session.open("INBOX")).status.folder_id
    assert await session.claim_recent(folder, 1) == 0
    await session.append("INBOX", message("b"), frozenset(), None)
    stranger = await claim_and_pay(client, AgentKey.generate())
    theirs = await runtime.services.mail_access.login(
        str(stranger["email"]), str(stranger["password"]), "127.0.0.1"
    )

    for last_read in (None, 1):
        with pytest.raises(FolderNotFound):
            await theirs.claim_recent(folder, 2, last_read)

    assert (await session.status("INBOX")).recent == 1


async def test_changes_give_the_flags_a_message_was_expunged_with(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    for subject in ("a", "b"):
        await session.append("INBOX", message(subject), frozenset(), None)
    opened = await session.open("INBOX")
    folder = opened.status.folder_id
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED, SEEN}))
    await session.expunge(folder)
    await session.create_folder("Elsewhere")
    await session.move(folder, [2], "Elsewhere")

    changes = await session.changes(folder, opened.status.highestmodseq)

    assert changes.expunged == (1, 2)
    assert dict(changes.last_flags)[1] == frozenset({DELETED, SEEN})


async def test_expunge_limited_to_uids_and_frees_the_quota(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    for subject in ("a", "b"):
        await session.append("INBOX", message(subject), frozenset({DELETED}), None)
    folder = (await session.open("INBOX")).status.folder_id

    assert await session.expunge(folder, [2]) == [2]
    assert await session.expunge(folder) == [1]
    assert await used_bytes(runtime, account.mailbox_id) == 0


async def test_folders_are_created_with_parents_renamed_with_children_and_deleted(
    session: MailSession,
) -> None:
    await session.create_folder("Work/Projects/2026")
    with pytest.raises(FolderExists):
        await session.create_folder("Work")
    await session.rename_folder("Work", "Jobs")
    await session.set_subscribed("Jobs/Projects", False)
    await session.delete_folder("Jobs/Projects/2026")

    folders = {f.name: f.subscribed for f in await session.list_folders()}
    assert folders == {"INBOX": True, "Jobs": False, "Jobs/Projects": False}  # CREATE does not subscribe
    with pytest.raises(FolderNotAllowed):
        await session.delete_folder("inbox")
    with pytest.raises(FolderNotFound):
        await session.rename_folder("Missing", "Other")
    with pytest.raises(FolderNotAllowed):
        await session.create_folder("a//b")


async def test_renaming_inbox_moves_its_messages_and_leaves_it_empty(session: MailSession) -> None:
    await session.append("INBOX", message("a"), frozenset(), None)
    inbox_before = await session.open("INBOX")

    await session.rename_folder("INBOX", "Old mail")

    inbox, moved = await session.open("INBOX"), await session.open("Old mail")
    assert inbox.messages == ()
    assert inbox.status.uidnext == inbox_before.status.uidnext
    assert [m.uid for m in moved.messages] == [1]
    changes = await session.changes(inbox.status.folder_id, inbox_before.status.highestmodseq)
    assert changes.expunged == (1,)


async def test_copy_and_move_give_new_uids_and_keep_the_quota_exact(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    for subject in ("a", "b", "c"):
        await session.append("INBOX", message(subject), frozenset({SEEN}), None)
    await session.create_folder("Archive")
    inbox = (await session.open("INBOX")).status.folder_id
    used = await used_bytes(runtime, account.mailbox_id)

    copied = await session.copy(inbox, [1, 2], "Archive")
    assert await used_bytes(runtime, account.mailbox_id) > used
    moved = await session.move(inbox, [3], "Archive")

    archive = await session.open("Archive")
    assert (copied.source_uids, copied.target_uids) == ((1, 2), (1, 2))
    assert (moved.source_uids, moved.target_uids) == ((3,), (3,))
    assert copied.uidvalidity == archive.status.uidvalidity
    assert [(m.uid, m.flags) for m in archive.messages] == [(uid, frozenset({SEEN})) for uid in (1, 2, 3)]
    assert [m.uid for m in (await session.open("INBOX")).messages] == [1, 2]
    quota = await session.quota()
    assert quota.used_bytes == await used_bytes(runtime, account.mailbox_id)
    assert [len((await session.open(name)).messages) for name in ("INBOX", "Archive")] == [2, 3]
    with pytest.raises(FolderNotFound):
        await session.copy(inbox, [1], "Nowhere")


async def test_deleting_a_folder_deletes_its_messages_and_frees_the_quota(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    await session.create_folder("Trash")
    await session.append("Trash", message("gone"), frozenset(), None)
    await session.delete_folder("Trash")
    assert await used_bytes(runtime, account.mailbox_id) == 0


async def test_structures_and_raw_answer_sections_without_parsing_again(session: MailSession) -> None:
    await session.append("INBOX", MULTIPART, frozenset(), None)
    await session.append("INBOX", message("plain"), frozenset(), None)
    folder = (await session.open("INBOX")).status.folder_id

    structures = await session.structures(folder, [2, 1, 9])
    raw = await session.raw(folder, [1, 2])

    assert [s.uid for s in structures] == [2, 1]
    multipart = structures[1]
    assert multipart.bodystructure.startswith("((")
    parts = stored_parts(multipart.header_end, multipart.content_type, multipart.parts_json)
    assert section_bytes(raw[1], parts, "1") == b"first part"
    assert section_bytes(raw[1], parts, "2") == b"<p>second</p>"
    plain = structures[0]
    plain_parts = stored_parts(plain.header_end, plain.content_type, plain.parts_json)
    assert section_bytes(raw[2], plain_parts, "1") == raw[2][plain.header_end :]


async def test_structures_read_only_the_items_asked_for(session: MailSession) -> None:
    await session.append("INBOX", MULTIPART, frozenset(), None)
    folder = (await session.open("INBOX")).status.folder_id
    (full,) = await session.structures(folder, [1])

    (envelope,) = await session.structures(folder, [1], frozenset({StructureItem.ENVELOPE}))
    (sections,) = await session.structures(folder, [1], frozenset({StructureItem.SECTIONS}))

    assert (envelope.envelope, envelope.header_end) == (full.envelope, full.header_end)
    assert envelope.body == envelope.bodystructure == envelope.parts_json == ""
    assert (sections.content_type, sections.parts_json) == (full.content_type, full.parts_json)
    assert sections.envelope == ""


async def test_headers_are_the_raw_bytes_up_to_the_body(session: MailSession) -> None:
    await session.append("INBOX", MULTIPART, frozenset(), None)
    await session.append("INBOX", b"Subject: no body", frozenset(), None)
    folder = (await session.open("INBOX")).status.folder_id

    headers = await session.headers(folder, [1, 2, 9])

    assert headers[1] == MULTIPART[: MULTIPART.index(b"\r\n\r\n") + 4]
    assert headers[2] == b"Subject: no body"
    assert set(headers) == {1, 2}


async def test_watch_wakes_on_new_mail_and_on_flag_changes(runtime: Runtime, account: Account) -> None:
    access = runtime.services.mail_access
    watcher = await access.login(account.address, account.password, "127.0.0.1")
    writer = await access.login(account.address, account.password, "127.0.0.1")
    watch = watcher.watch()
    woken = aiter(watch)
    try:
        appended = await writer.append("INBOX", message("new"), frozenset(), None)
        folder = await asyncio.wait_for(anext(woken), 5)
        assert folder is not None
        await writer.store_flags(folder, [appended.uid], FlagChange.ADD, frozenset({SEEN}))
        assert await asyncio.wait_for(anext(woken), 5) == folder
    finally:
        watch.close()


async def test_changes_read_in_a_write_no_later_select_answers_from(
    runtime: Runtime, session: MailSession, account: Account
) -> None:
    """A CLOSE expunges and no changes are asked after it: what its write read must not answer the
    changes asked after the folder is selected again (QRESYNC's VANISHED (EARLIER) since an older
    modseq), which must include what others expunged in between."""
    other = await runtime.services.mail_access.login(account.address, account.password, "127.0.0.1")
    for subject in ("a", "b", "c"):
        await session.append("INBOX", message(subject), frozenset(), None)
    opened = await session.open("INBOX")
    folder, told = opened.status.folder_id, opened.status.highestmodseq
    await session.changes(folder, told)
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED}))
    known = (await session.changes(folder, told)).highestmodseq
    await session.expunge(folder)  # CLOSE: the session deselects, asking no changes
    await other.store_flags(folder, [2], FlagChange.ADD, frozenset({DELETED}))
    await other.expunge(folder)

    await session.open("INBOX")  # SELECT INBOX (QRESYNC (uidvalidity known))
    vanished_earlier = await session.changes(folder, known)

    assert vanished_earlier.expunged == (1, 2)


async def test_changes_read_in_a_write_are_not_taken_for_a_folder_made_again(session: MailSession) -> None:
    """A CLOSE's write read the changes of a folder that is then deleted and made again (on SQLite it
    may get the same id): the changes asked after it is selected are the new folder's."""
    await session.create_folder("Work")
    for subject in ("a", "b"):
        await session.append("Work", message(subject), frozenset(), None)
    opened = await session.open("Work")
    folder, told = opened.status.folder_id, opened.status.highestmodseq
    await session.changes(folder, told)
    await session.store_flags(folder, [1], FlagChange.ADD, frozenset({DELETED}))
    await session.changes(folder, told)
    await session.expunge(folder)  # CLOSE
    await session.delete_folder("Work")
    await session.create_folder("Work")
    for subject in ("c", "d", "e"):
        await session.append("Work", message(subject), frozenset(), None)

    again = await session.open("Work")
    changes = await session.changes(again.status.folder_id, again.status.highestmodseq)

    assert changes.uidvalidity == again.status.uidvalidity
