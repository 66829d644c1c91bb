"""The changes reads of one folder shared by the sessions that ask at once (PostgreSQL's path; the
statement itself, shared, on PostgreSQL in tests/integration/test_shared_by_sessions.py).
Here the read is a folder kept in memory, so each test can hold a read between its snapshot and its
answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from mailservice.adapters.db.shared_change_reads import SharedChangeReads
from mailservice.domain.errors import StorageUnavailable
from tests.support.change_rows import Row

MAILBOX = "mbx"
FOLDER = 7


class HeldFolder:
    """A folder whose reads take their snapshot at once and answer when let go."""

    def __init__(self) -> None:
        self.flags: dict[int, tuple[int, str]] = {}
        self.highestmodseq = 1
        self.reads: list[int] = []
        """The `since` of every read, in order."""
        self.gates: list[asyncio.Event] = []
        self.failure: Exception | None = None
        self.snapshot_taken = asyncio.Condition()

    def set_flags(self, uid: int, flags: str) -> None:
        self.highestmodseq += 1
        self.flags[uid] = (self.highestmodseq, flags)

    async def read_rows(self, asked: Mapping[str, Any]) -> list[Any]:
        assert (asked["mailbox_id"], asked["folder_id"]) == (MAILBOX, FOLDER)
        since = asked["since"]
        self.reads.append(since)
        async with self.snapshot_taken:
            self.snapshot_taken.notify_all()
        rows = [Row(0, self.highestmodseq, 10, extra_a=1, extra_b=0)]
        rows += [
            Row(1, uid, modseq, flags, datetime(2026, 1, 1, tzinfo=UTC), 100)
            for uid, (modseq, flags) in self.flags.items()
            if modseq > since
        ]
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.failure is not None:
            raise self.failure
        return rows

    async def reading(self, count: int) -> None:
        """Until `count` reads have taken their snapshot."""
        async with self.snapshot_taken:
            await self.snapshot_taken.wait_for(lambda: len(self.reads) >= count)

    def answer(self, read: int) -> None:
        self.gates[read].set()


def flags_told(changes: Any) -> dict[int, frozenset[str]]:
    return {meta.uid: meta.flags for meta in changes.changed}


@pytest.fixture
def folder() -> HeldFolder:
    return HeldFolder()


async def test_sessions_asking_while_a_read_runs_share_the_next_and_see_what_was_committed_before_they_asked(
    folder: HeldFolder,
) -> None:
    shared = SharedChangeReads(folder.read_rows)
    first = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    await folder.reading(1)
    folder.set_flags(5, "\\Seen")  # committed after the first read's snapshot
    later = [asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1)) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert len(folder.reads) == 1, "no read starts while one of the folder is under way"

    folder.answer(0)
    await folder.reading(2)
    folder.answer(1)

    assert flags_told(await first) == {}
    for told in await asyncio.gather(*later):
        assert flags_told(told) == {5: frozenset({"\\Seen"})}
        assert told.highestmodseq == 2
    assert len(folder.reads) == 2


async def test_a_shared_read_reads_since_the_lowest_modseq_asked_and_tells_each_session_what_came_after_its_own(
    folder: HeldFolder,
) -> None:
    folder.set_flags(1, "$A")  # modseq 2
    folder.set_flags(2, "$B")  # modseq 3
    shared = SharedChangeReads(folder.read_rows)
    running = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 3))
    await folder.reading(1)
    ahead = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 2))
    await asyncio.sleep(0)
    behind = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    folder.answer(0)
    await folder.reading(2)
    folder.answer(1)

    assert folder.reads == [3, 1]
    assert flags_told(await running) == {}
    assert flags_told(await behind) == {1: frozenset({"$A"}), 2: frozenset({"$B"})}
    assert flags_told(await ahead) == {2: frozenset({"$B"})}


async def test_a_session_that_goes_away_leaves_the_read_to_the_others_it_serves(folder: HeldFolder) -> None:
    shared = SharedChangeReads(folder.read_rows)
    running = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    await folder.reading(1)
    gone, staying = (asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1)) for _ in range(2))
    folder.answer(0)
    await folder.reading(2)
    gone.cancel()
    folder.set_flags(3, "$Late")
    await asyncio.sleep(0)
    folder.answer(1)

    await running
    assert (await staying).highestmodseq == 1
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_a_failed_read_fails_the_sessions_it_serves_and_the_next_read_runs(folder: HeldFolder) -> None:
    shared = SharedChangeReads(folder.read_rows)
    folder.failure = ConnectionError("the database went away")
    running = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    await folder.reading(1)
    waiting = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    folder.answer(0)
    await folder.reading(2)
    folder.answer(1)
    for task in (running, waiting):
        with pytest.raises(StorageUnavailable) as raised:
            await task
        assert isinstance(raised.value.__cause__, ConnectionError)

    folder.failure = None
    folder.set_flags(4, "$Again")
    after = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    await folder.reading(3)
    folder.answer(2)
    assert flags_told(await after) == {4: frozenset({"$Again"})}


async def test_reads_of_different_folders_do_not_wait_for_each_other(folder: HeldFolder) -> None:
    other = HeldFolder()
    shared = SharedChangeReads(
        lambda asked: (folder if asked["folder_id"] == FOLDER else other).read_rows(
            {**asked, "folder_id": FOLDER}
        )
    )
    first = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    second = asyncio.create_task(shared.changes(MAILBOX, FOLDER + 1, 1))
    await folder.reading(1)
    await other.reading(1)
    other.answer(0)
    assert (await second).highestmodseq == 1
    assert not first.done()
    folder.answer(0)
    await first


async def test_a_read_cancelled_before_it_begins_cancels_its_sessions_and_the_folder_is_read_again(
    folder: HeldFolder,
) -> None:
    """As when the node stops: the read's task is cancelled, here before its first step."""
    shared = SharedChangeReads(folder.read_rows)
    asking = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    await asyncio.sleep(0)
    (read_task,) = asyncio.all_tasks() - {asyncio.current_task(), asking}
    read_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asking, 5)
    assert folder.reads == []

    again = asyncio.create_task(shared.changes(MAILBOX, FOLDER, 1))
    await folder.reading(1)
    folder.answer(0)
    assert (await again).highestmodseq == 1
