"""The node's APPENDs of a folder (`folder_appends`): one statement at a time per folder, those that
come meanwhile together in the next, each APPEND whole, and every caller answered whatever happens."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from mailservice.adapters.db import prepared
from mailservice.adapters.db.append_statement import MESSAGES_PER_STATEMENT
from mailservice.adapters.db.folder_appends import FolderAppends
from mailservice.adapters.message_parsing import parse_message
from mailservice.domain.errors import StorageUnavailable
from mailservice.domain.messages import Delivery, MessageCopy, StoredCopy

RAW = b"Subject: appended\r\n\r\nbody\r\n"
PARSED = parse_message(RAW)


def delivery(count: int = 1, folder: str = "INBOX", mailbox_id: str = "m1") -> Delivery:
    copies = tuple(
        MessageCopy(mailbox_id, RAW, PARSED, datetime(2026, 12, 7, tzinfo=UTC), folder=folder)
        for _ in range(count)
    )
    return Delivery(copies, into_existing_folders=True)


class Statements:
    """A stand-in for the APPEND statement: each call is one statement, held until `release`d; UIDs
    given in order per folder, as the folder's row gives them."""

    def __init__(self) -> None:
        self.written: list[Delivery] = []
        self.running: dict[tuple[str, str], int] = {}
        self.gate = asyncio.Event()
        self.refuse: set[int] = set()
        """Deliveries of these many copies store nothing."""
        self.fail_with: type[Exception] | None = None
        """Each statement raises a new one of these."""
        self.overlapping: list[tuple[str, str]] = []
        """Folders that had two statements at once (checked after each test: an assertion here would
        be answered as a failed statement)."""
        self.after_write: Callable[[], object] | None = None
        """Called once, as the next statement ends."""
        self._uidnext: dict[tuple[str, str], int] = {}

    def release(self) -> None:
        self.gate.set()

    async def write(self, given: Delivery) -> list[StoredCopy] | None:
        first_copy = given.copies[0]
        folder = (first_copy.mailbox_id, first_copy.folder)
        self.running[folder] = self.running.get(folder, 0) + 1
        if self.running[folder] > 1:
            self.overlapping.append(folder)
        try:
            await self.gate.wait()
            self.written.append(given)
            after_write, self.after_write = self.after_write, None
            if after_write is not None:
                after_write()
            if self.fail_with is not None:
                raise self.fail_with("connection lost")
            if len(given.copies) in self.refuse:
                return None
            first = self._uidnext.get(folder, 1)
            self._uidnext[folder] = first + len(given.copies)
            return [
                StoredCopy(c.mailbox_id, 1, first + n, first + n, len(c.raw), 7)
                for n, c in enumerate(given.copies)
            ]
        finally:
            self.running[folder] -= 1


@pytest.fixture
def statements() -> Iterator[Statements]:
    made = Statements()
    yield made
    assert made.overlapping == [], "one statement of a folder at a time"


async def started(
    appends: FolderAppends, deliveries: list[Delivery]
) -> list[asyncio.Task[list[StoredCopy] | None]]:
    """Each delivery handed in, the first once a statement of its folder is under way."""
    tasks = [asyncio.create_task(appends.append(deliveries[0]))]
    await turns()
    tasks += [asyncio.create_task(appends.append(each)) for each in deliveries[1:]]
    await turns()
    return tasks


async def turns() -> None:
    """Until every task started has run as far as it can."""
    for _ in range(3):
        await asyncio.sleep(0)


def uids(stored: list[StoredCopy] | None) -> list[int]:
    assert stored is not None
    return [copy.uid for copy in stored]


async def test_appends_that_come_while_a_statement_runs_go_together_in_the_next(
    statements: Statements,
) -> None:
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery(), delivery(2), delivery(), delivery(3)])
    statements.release()

    answers = await asyncio.gather(*tasks)

    assert [uids(each) for each in answers] == [[1], [2, 3], [4], [5, 6, 7]]
    assert [len(each.copies) for each in statements.written] == [1, 6]


async def test_the_folders_of_a_node_are_written_side_by_side(statements: Statements) -> None:
    appends = FolderAppends(statements.write)
    tasks = await started(
        appends, [delivery(folder="INBOX"), delivery(folder="Archive"), delivery(mailbox_id="m2")]
    )
    assert sum(statements.running.values()) == 3
    statements.release()
    await asyncio.gather(*tasks)
    await appends.settle()


async def test_an_append_that_comes_as_the_writer_of_its_folder_ends_is_written(
    statements: Statements,
) -> None:
    """It comes after the writer found nothing more to write, before the writer's task is done with:
    it starts a writer of its own."""
    appends = FolderAppends(statements.write)
    late: list[asyncio.Task[list[StoredCopy] | None]] = []
    statements.after_write = lambda: late.append(asyncio.create_task(appends.append(delivery())))
    statements.release()

    assert uids(await appends.append(delivery())) == [1]
    assert uids(await asyncio.wait_for(late[0], 5)) == [2]


async def test_a_statement_takes_no_more_messages_than_one_statement_may(statements: Statements) -> None:
    appends = FolderAppends(statements.write)
    half = MESSAGES_PER_STATEMENT // 2 + 1
    tasks = await started(appends, [delivery(), delivery(half), delivery(half), delivery()])
    statements.release()
    await asyncio.gather(*tasks)

    assert [len(each.copies) for each in statements.written] == [1, half, half + 1]


async def test_a_statement_that_stores_nothing_stores_none_of_its_appends(statements: Statements) -> None:
    """Each is then the caller's to write another way (the group path): not written again here."""
    statements.refuse = {3}
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery(), delivery(), delivery(2)])
    statements.release()

    answers = await asyncio.gather(*tasks)

    assert [None if each is None else uids(each) for each in answers] == [[1], None, None]
    assert [len(each.copies) for each in statements.written] == [1, 3]


async def test_a_statement_takes_no_more_bytes_than_one_statement_may(
    statements: Statements, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "ONE_STATEMENT_BYTES", 3 * len(RAW))
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery(), delivery(2), delivery(), delivery(), delivery(3)])
    statements.release()
    await asyncio.gather(*tasks)

    assert [len(each.copies) for each in statements.written] == [1, 3, 1, 3]


async def test_a_failed_statement_fails_each_of_its_appends_without_writing_them_again(
    statements: Statements,
) -> None:
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery(), delivery(), delivery()])
    statements.fail_with = RuntimeError
    statements.release()

    answers = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(each, StorageUnavailable) for each in answers)
    assert "connection lost" not in str(answers[0])
    assert len(statements.written) == 2
    await appends.settle()


async def test_a_caller_that_goes_away_leaves_its_append_written_and_the_others_answered(
    statements: Statements,
) -> None:
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery(), delivery(), delivery()])
    tasks[1].cancel()
    statements.release()

    answers = await asyncio.gather(*tasks, return_exceptions=True)
    await appends.settle()

    assert isinstance(answers[1], asyncio.CancelledError)
    assert (uids(answers[0]), uids(answers[2])) == ([1], [3])  # type: ignore[arg-type]
    assert [len(each.copies) for each in statements.written] == [1, 2]


def writers() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "folder-appends"]


async def test_appends_cut_off_by_a_cancelled_writer_are_answered_and_the_folder_written_again(
    statements: Statements,
) -> None:
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery(), delivery()])
    for writer in writers():
        writer.cancel()

    answers = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(each, StorageUnavailable) for each in answers)
    statements.release()
    assert uids(await asyncio.wait_for(appends.append(delivery()), 5)) == [1]


async def test_a_writer_cancelled_before_its_first_step_leaves_no_append_unanswered(
    statements: Statements,
) -> None:
    appends = FolderAppends(statements.write)
    task = asyncio.create_task(appends.append(delivery()))
    await asyncio.sleep(0)  # the writer made, not yet run
    for writer in writers():
        writer.cancel()

    with pytest.raises(StorageUnavailable):
        await asyncio.wait_for(task, 5)
    statements.release()
    assert uids(await asyncio.wait_for(appends.append(delivery()), 5)) == [1]


async def test_a_failure_answered_to_a_caller_that_went_away_is_not_reported_unretrieved(
    statements: Statements, caplog: pytest.LogCaptureFixture
) -> None:
    """Asyncio reports a future's exception that nobody retrieved when the future is collected."""
    caplog.set_level(logging.CRITICAL, "mailservice.adapters.db.folder_appends")  # no record holds it
    reported: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
    statements.fail_with = RuntimeError
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery()])
    caller = weakref.ref(tasks[0])
    tasks[0].cancel()
    statements.release()
    await appends.settle()
    await turns()
    del tasks
    gc.collect()

    assert caller() is None  # the caller, its wait and the answer it waited for are gone
    assert reported == []


@pytest.mark.parametrize("count", [1, 2])
async def test_settle_returns_once_every_append_handed_in_is_answered(
    statements: Statements, count: int
) -> None:
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery() for _ in range(count)])
    settled = asyncio.create_task(appends.settle())
    await turns()
    assert not settled.done()
    statements.release()
    await settled
    assert all(task.done() for task in tasks)


async def test_cut_off_answers_every_append_handed_in_and_returns(statements: Statements) -> None:
    """At a close whose bound passed: the statement under way and the APPENDs behind it."""
    appends = FolderAppends(statements.write)
    tasks = await started(appends, [delivery(), delivery(), delivery(folder="Archive")])

    await asyncio.wait_for(appends.cut_off(), 5)

    answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(each, StorageUnavailable) for each in answers)
    assert writers() == []
