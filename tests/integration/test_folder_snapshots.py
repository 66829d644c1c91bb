"""SELECT from the process's folder snapshots, on SQLite and PostgreSQL: after every kind of change a
second SELECT sees exactly what a whole read of the folder sees, and an unchanged part is not read again."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from mailservice.adapters.db.folder_reads import folder_status, open_folder
from mailservice.adapters.db.folder_snapshots import FolderSnapshots
from mailservice.adapters.db.tables import mailboxes
from mailservice.bootstrap import Runtime, build_runtime
from mailservice.domain.clock import FixedClock
from mailservice.domain.mail_session import FlagChange, FolderStatus, MailSession, OpenedFolder
from mailservice.domain.mailbox import MailboxStatus
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.databases import empty_postgres_database
from tests.support.keys import AgentKey
from tests.support.mail import mail_listeners, send, text_message

SEEN = "\\Seen"
DELETED = "\\Deleted"
FOLDERS = ("INBOX", "Other")


@dataclass
class Given:
    runtime: Runtime
    session: MailSession
    http: httpx.AsyncClient
    mailbox_id: str
    address: str
    token: str

    async def folder_id(self, name: str) -> int:
        return (await self.session.status(name)).folder_id


def message(subject: str) -> bytes:
    return text_message("someone@example.org", subject=subject).replace(b"\n", b"\r\n")


async def whole_read(runtime: Runtime, mailbox_id: str, name: str) -> OpenedFolder:
    """The folder as a read with no snapshot kept sees it."""
    return await runtime.database.run_read(lambda c: open_folder(c, mailbox_id, name, FolderSnapshots()))


async def assert_selects_see_the_store(
    given: Given, kept: FolderSnapshots | None = None, runtime: Runtime | None = None
) -> None:
    """Every folder, opened by the session and (with `kept`) from those snapshots, is what a whole
    read sees."""
    runtime = runtime or given.runtime
    for name in await _names(given):
        whole = await whole_read(runtime, given.mailbox_id, name)
        assert await given.session.open(name) == whole, name
        if kept is not None:
            assert await _open_from(runtime, given.mailbox_id, name, kept) == whole, name


async def _open_from(runtime: Runtime, mailbox_id: str, name: str, kept: FolderSnapshots) -> OpenedFolder:
    return await runtime.database.run_read(lambda c: open_folder(c, mailbox_id, name, kept))


async def _names(given: Given) -> list[str]:
    return [folder.name for folder in await given.session.list_folders()]


@pytest.fixture
async def given(runtime: Runtime, client: httpx.AsyncClient) -> Given:
    return await _given(runtime, client)


async def _given(runtime: Runtime, http: httpx.AsyncClient) -> Given:
    details = await claim_and_pay(http, AgentKey.generate())
    session = await runtime.services.mail_access.login(
        str(details["email"]), str(details["password"]), "127.0.0.1"
    )
    await session.create_folder("Other")
    for number in range(1, 4):
        await session.append("INBOX", message(f"inbox {number}"), frozenset(), None)
    for number in range(1, 3):
        await session.append("Other", message(f"other {number}"), frozenset({SEEN}), None)
    return Given(
        runtime,
        session,
        http,
        str(details["mailbox_id"]),
        str(details["email"]),
        str(details["access_token"]),
    )


# The changes, each made after both folders were selected once.


async def append(given: Given) -> None:
    await given.session.append("INBOX", message("appended"), frozenset({"$Label1"}), None)


async def deliver(given: Given) -> None:
    async with mail_listeners(given.runtime) as (smtp_port, _):
        await send(smtp_port, text_message(given.address, subject="delivered"), [given.address])


async def store_flags(given: Given) -> None:
    await given.session.store_flags(await given.folder_id("INBOX"), [2], FlagChange.ADD, frozenset({SEEN}))


async def replace_flags(given: Given) -> None:
    folder_id = await given.folder_id("Other")
    await given.session.store_flags(folder_id, [1, 2], FlagChange.REPLACE, frozenset({"\\Flagged"}))


async def expunge(given: Given) -> None:
    folder_id = await given.folder_id("INBOX")
    await given.session.store_flags(folder_id, [1, 3], FlagChange.ADD, frozenset({DELETED}))
    await given.session.expunge(folder_id)


async def copy_out(given: Given) -> None:
    await given.session.copy(await given.folder_id("INBOX"), [1, 2], "Other")


async def copy_in(given: Given) -> None:
    await given.session.copy(await given.folder_id("Other"), [2], "INBOX")


async def move_out(given: Given) -> None:
    await given.session.move(await given.folder_id("INBOX"), [2, 3], "Other")


async def move_in(given: Given) -> None:
    await given.session.move(await given.folder_id("Other"), [1], "INBOX")


async def move_within(given: Given) -> None:
    await given.session.move(await given.folder_id("INBOX"), [1], "INBOX")


async def delete_and_create(given: Given) -> None:
    await given.session.delete_folder("Other")
    await given.session.create_folder("Other")
    await given.session.append("Other", message("in the new folder"), frozenset(), None)


async def rename_and_create(given: Given) -> None:
    await given.session.rename_folder("Other", "Renamed")
    await given.session.create_folder("Other")
    await given.session.append("Renamed", message("in the renamed folder"), frozenset(), None)


async def rename_inbox(given: Given) -> None:
    await given.session.rename_folder("INBOX", "Archive")
    await given.session.append("INBOX", message("after the rename"), frozenset(), None)


async def claim_recent(given: Given) -> None:
    await given.session.claim_recent(await given.folder_id("INBOX"), 2)


async def http_flags_and_delete(given: Given) -> None:
    headers = {"Authorization": f"Bearer {given.token}"}
    assert (await given.http.patch("/v1/messages/1", json={"seen": True}, headers=headers)).status_code == 200
    assert (await given.http.delete("/v1/messages/3", headers=headers)).status_code == 204


async def purge_of_an_expired_mailbox(given: Given) -> None:
    """Every message of every folder goes, recorded as expunged like any other; then, the mailbox paid
    again, new mail comes."""
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    expired = update(mailboxes).where(mailboxes.c.id == given.mailbox_id)
    expired = expired.values(status=MailboxStatus.EXPIRED.value, expires_at=long_ago)
    await given.runtime.database.run_write(lambda c: c.execute(expired))
    assert await given.runtime.services.mailboxes.purge_mail_of_expired(timedelta(days=1)) == 5
    await given.session.append("INBOX", message("after the purge"), frozenset(), None)


CHANGES: list[tuple[Callable[[Given], Awaitable[None]], int]] = [
    (append, 0),
    (deliver, 0),
    (store_flags, 0),
    (replace_flags, 0),
    (expunge, 0),
    (copy_out, 0),
    (copy_in, 0),
    (move_out, 0),
    (move_in, 0),
    (move_within, 0),
    (delete_and_create, 1),
    (rename_and_create, 1),
    (rename_inbox, 1),
    (claim_recent, 0),
    (http_flags_and_delete, 0),
    (purge_of_an_expired_mailbox, 0),
]
"""Each change, and how many folders a second SELECT of every folder must read whole after it: the
folders it created."""


@pytest.mark.parametrize(("change", "whole_reads"), CHANGES, ids=[change.__name__ for change, _ in CHANGES])
async def test_a_second_select_after_a_change_sees_what_a_whole_read_sees(
    given: Given, change: Callable[[Given], Awaitable[None]], whole_reads: int
) -> None:
    kept = FolderSnapshots()
    await assert_selects_see_the_store(given, kept)

    await change(given)

    await assert_selects_see_the_store(given, kept)
    assert kept.whole_reads() == len(FOLDERS) + whole_reads


async def _status_from(runtime: Runtime, mailbox_id: str, name: str, kept: FolderSnapshots) -> FolderStatus:
    return await runtime.database.run_read(lambda c: folder_status(c, mailbox_id, name, kept))


@pytest.mark.parametrize(("change", "whole_reads"), CHANGES, ids=[change.__name__ for change, _ in CHANGES])
async def test_status_after_a_change_counts_what_a_whole_read_counts(
    given: Given, change: Callable[[Given], Awaitable[None]], whole_reads: int
) -> None:
    """STATUS answers from the kept snapshots as SELECT does, reading only what changed."""
    kept = FolderSnapshots()
    for name in await _names(given):
        await _status_from(given.runtime, given.mailbox_id, name, kept)

    await change(given)

    for name in await _names(given):
        whole = await whole_read(given.runtime, given.mailbox_id, name)
        status = await _status_from(given.runtime, given.mailbox_id, name, kept)
        assert status == replace(whole.status, deleted=sum(DELETED in m.flags for m in whole.messages)), name
    assert kept.whole_reads() == len(FOLDERS) + whole_reads


@pytest.mark.parametrize(("change", "whole_reads"), CHANGES, ids=[change.__name__ for change, _ in CHANGES])
async def test_status_of_a_folder_too_large_to_keep_is_counted_by_the_database(
    given: Given, change: Callable[[Given], Awaitable[None]], whole_reads: int
) -> None:
    """A cache too small for any folder: STATUS counts in the database, reads no folder whole, keeps
    nothing, and counts what a whole read counts."""
    await change(given)
    folder_id = await given.folder_id("INBOX")
    await given.session.store_flags(folder_id, [2], FlagChange.ADD, frozenset({"$Deleted", "Seen"}))
    last = (await whole_read(given.runtime, given.mailbox_id, "INBOX")).messages[-1].uid
    await given.session.store_flags(folder_id, [last], FlagChange.ADD, frozenset({DELETED}))
    nothing_kept = FolderSnapshots(capacity=0)

    for name in await _names(given):
        whole = await whole_read(given.runtime, given.mailbox_id, name)
        status = await _status_from(given.runtime, given.mailbox_id, name, nothing_kept)
        assert status == replace(whole.status, deleted=sum(DELETED in m.flags for m in whole.messages)), name
    assert (nothing_kept.whole_reads(), len(nothing_kept)) == (0, 0)


async def test_a_second_select_of_an_unchanged_folder_reads_no_message_again(given: Given) -> None:
    first = await given.session.open("INBOX")

    second = await given.session.open("INBOX")

    assert second.by_uid is first.by_uid


async def test_a_second_select_reads_only_the_changed_messages(given: Given) -> None:
    first = await given.session.open("INBOX")
    await store_flags(given)

    second = await given.session.open("INBOX")

    unchanged = [meta for meta in first.messages if meta.uid != 2]
    assert all(any(kept is meta for kept in second.messages) for meta in unchanged)
    assert SEEN in second.messages[1].flags and second.status.unseen == first.status.unseen - 1


async def test_selects_see_the_store_through_random_changes(given: Given) -> None:
    await _random_changes(random.Random(7), [given], steps=40)


async def _random_changes(
    chooser: random.Random, sessions: list[Given], steps: int, check: bool = True
) -> None:
    for step in range(steps):
        given = chooser.choice(sessions)
        name = chooser.choice(FOLDERS)
        opened = await given.session.open(name)
        uids = [meta.uid for meta in opened.messages]
        some = sorted(chooser.sample(uids, min(len(uids), chooser.randint(1, 3))))
        folder_id = opened.status.folder_id
        action = chooser.choice(["append", "flags", "expunge", "copy", "move", "recent"])
        if action == "append" or not some:
            await given.session.append(name, message(f"step {step}"), frozenset(), None)
        elif action == "flags":
            flags = frozenset(chooser.sample([SEEN, "\\Flagged", "$Label1", DELETED], 2))
            await given.session.store_flags(folder_id, some, chooser.choice(list(FlagChange)), flags)
        elif action == "expunge":
            await given.session.store_flags(folder_id, some, FlagChange.ADD, frozenset({DELETED}))
            await given.session.expunge(folder_id, some)
        elif action in ("copy", "move"):
            target = chooser.choice(FOLDERS)
            await (given.session.copy if action == "copy" else given.session.move)(folder_id, some, target)
        else:
            await given.session.claim_recent(folder_id, max(uids))
        for each in sessions if check else []:
            await assert_selects_see_the_store(each)


@pytest.fixture
async def two_nodes(postgres_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[list[Given]]:
    """Two runtimes on one PostgreSQL database, each with its own snapshots, one mailbox seen from both."""
    empty_postgres_database(postgres_dsn)
    first = await build_runtime(make_settings(postgres_dsn, tmp_path / "a"), clock)
    second = await build_runtime(make_settings(postgres_dsn, tmp_path / "b"), clock)
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=first.app), base_url=BASE_URL) as http_a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=second.app), base_url=BASE_URL) as http_b,
        ):
            on_first = await _given(first, http_a)
            password = await _password(first, on_first.mailbox_id)
            session = await second.services.mail_access.login(on_first.address, password, "127.0.0.1")
            on_second = Given(second, session, http_b, on_first.mailbox_id, on_first.address, on_first.token)
            yield [on_first, on_second]
    finally:
        await first.close()
        await second.close()


async def _password(runtime: Runtime, mailbox_id: str) -> str:
    mailbox = await runtime.services.mailboxes.current(mailbox_id)
    assert mailbox is not None
    return runtime.services.credentials.mail_password(mailbox)


async def test_two_processes_on_one_database_see_each_others_changes(two_nodes: list[Given]) -> None:
    first, second = two_nodes
    for given in two_nodes:
        await assert_selects_see_the_store(given)

    await expunge(first)
    await copy_in(second)
    await store_flags(first)
    await delete_and_create(second)

    for given in two_nodes:
        await assert_selects_see_the_store(given)
    await _random_changes(random.Random(11), two_nodes, steps=30)


async def test_selects_made_while_other_sessions_write_leave_exact_snapshots(
    runtime: Runtime, given: Given
) -> None:
    writers = [given] + [
        Given(
            runtime,
            await runtime.services.mail_access.login(
                given.address, await _password(runtime, given.mailbox_id), "127.0.0.1"
            ),
            given.http,
            given.mailbox_id,
            given.address,
            given.token,
        )
        for _ in range(2)
    ]

    async def select_repeatedly() -> None:
        for _ in range(30):
            for name in FOLDERS:
                await given.session.open(name)

    await asyncio.gather(
        *(
            _random_changes(random.Random(seed), [writer], steps=15, check=False)
            for seed, writer in enumerate(writers)
        ),
        select_repeatedly(),
        select_repeatedly(),
    )

    await assert_selects_see_the_store(given)


async def test_a_second_select_or_status_of_a_kept_folder_is_one_statement_without_a_transaction(
    given: Given, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await given.session.open("INBOX")
    await store_flags(given)
    transactions: list[object] = []
    read_in_a_transaction = given.runtime.database.run_read

    async def counted(*args: Any, **kwargs: Any) -> Any:
        transactions.append(args)
        return await read_in_a_transaction(*args, **kwargs)

    monkeypatch.setattr(given.runtime.database, "run_read", counted)

    second = await given.session.open("INBOX")
    status = await given.session.status("INBOX")

    assert transactions == []
    assert second == await whole_read(given.runtime, given.mailbox_id, "INBOX") != first
    assert status == second.status
    await given.session.open("Other")
    await given.session.rename_folder("Other", "Elsewhere")
    await given.session.create_folder("Other")
    transactions.clear()
    await given.session.open("Other")  # another folder by that name now: read in a transaction
    assert len(transactions) == 1


@pytest.mark.parametrize("replace_it", ["delete", "rename"])
async def test_a_folder_made_again_under_a_kept_name_is_never_taken_for_the_old_one(
    given: Given, replace_it: str
) -> None:
    """Even with as many messages as the snapshot kept under that name, and a HIGHESTMODSEQ above it."""
    old = await given.session.open("Other")
    if replace_it == "delete":
        await given.session.delete_folder("Other")
    else:
        await given.session.rename_folder("Other", "Renamed")
    await given.session.create_folder("Other")
    for number in range(len(old.messages) + 2):
        await given.session.append("Other", message(f"new {number}"), frozenset(), None)
    folder_id = (await whole_read(given.runtime, given.mailbox_id, "Other")).status.folder_id  # keeps none
    await given.session.store_flags(folder_id, [1, 2], FlagChange.ADD, frozenset({DELETED}))
    await given.session.expunge(folder_id)

    new = await given.session.open("Other")

    assert new == await whole_read(given.runtime, given.mailbox_id, "Other")
    assert len(new.messages) == len(old.messages)
    assert (new.status.folder_id, new.status.uidvalidity) != (old.status.folder_id, old.status.uidvalidity)
