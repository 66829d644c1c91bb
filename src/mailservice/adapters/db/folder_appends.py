"""PostgreSQL: the node's APPENDs, each folder's written by one statement at a time, with those that
came meanwhile in it.

Each APPEND statement holds its folder's row from its lock to its commit, which waits for the WAL's
flush: the APPENDs of one folder cannot run side by side, and each waiting in the database would hold a
connection of the pool that the node's APPENDs and COPYs share. So the node sends a folder's APPENDs one
statement at a time, and the APPENDs that arrive while one is under way go together in the next: one
lock of the folder, one commit and one flush for all of them, where one each made every APPEND behind
them wait for all of those (and the folder's STOREs and EXPUNGEs for each).

An APPEND stays whole: a statement stores all its messages or none. When a statement stores nothing
(the folder has gone, the mailbox has no room for all of them, the database refused it before its
commit, or it could not be made), none of its APPENDs is stored, and each is the caller's to write
another way (the group-commit path, which makes room, refuses, or fails one delivery at a time). A
statement that failed where it may have committed fails each of its APPENDs with `StorageUnavailable`:
written again, one could be stored twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mailservice.adapters.db import prepared
from mailservice.adapters.db.append_statement import MESSAGES_PER_STATEMENT
from mailservice.adapters.futures import answer
from mailservice.domain.errors import StorageUnavailable
from mailservice.domain.messages import Delivery, StoredCopy

log = logging.getLogger(__name__)

WriteAppend = Callable[[Delivery], Awaitable[list[StoredCopy] | None]]
"""Writes a delivery by one statement: its copies, or None when it certainly stored nothing; raises
when it may have."""

_Answer = asyncio.Future[list[StoredCopy] | None]


@dataclass(frozen=True)
class _Waiting:
    delivery: Delivery
    answer: _Answer


@dataclass(eq=False)
class _Folder:
    """A folder's APPENDs: those waiting for the next statement, and those of the statement under way."""

    waiting: deque[_Waiting] = field(default_factory=deque)
    writing: list[_Waiting] = field(default_factory=list)


class FolderAppends:
    def __init__(self, write: WriteAppend) -> None:
        self._write = write
        self._folders: dict[tuple[str, str], _Folder] = {}
        self._writers: set[asyncio.Task[None]] = set()

    async def append(self, delivery: Delivery) -> list[StoredCopy] | None:
        """`delivery` (one that `appended_in_one_statement` takes) written, alone or with others of its
        folder: its copies, or None when it was not stored. Raises `StorageUnavailable` when the
        statement failed where it may have committed. A caller that goes away cancels only its wait:
        the statement still runs, and what it stored is announced (what it did not store is left
        unwritten: its caller, gone, was to write it another way)."""
        loop = asyncio.get_running_loop()
        answer: _Answer = loop.create_future()
        answer.add_done_callback(_retrieved)
        first = delivery.copies[0]
        key = (first.mailbox_id, first.folder)
        folder = self._folders.get(key)
        if folder is None:
            folder = self._folders[key] = _Folder()
            writer = loop.create_task(self._write_folder(key, folder), name="folder-appends")
            self._writers.add(writer)
            writer.add_done_callback(lambda ended: self._writer_ended(ended, key, folder))
        folder.waiting.append(_Waiting(delivery, answer))
        return await asyncio.shield(answer)

    async def cut_off(self) -> None:
        """Cancel every writer: the APPENDs they had are answered `StorageUnavailable` (a statement
        under way may still commit)."""
        for writer in self._writers:
            writer.cancel()
        await self.settle()

    def waiting(self, mailbox_id: str, folder: str) -> int:
        """How many APPENDs of the folder wait for the next statement."""
        kept = self._folders.get((mailbox_id, folder))
        return 0 if kept is None else len(kept.waiting)

    async def settle(self) -> None:
        """Return once every APPEND handed in is written and answered."""
        while self._writers:
            await asyncio.gather(*self._writers, return_exceptions=True)

    async def _write_folder(self, key: tuple[str, str], folder: _Folder) -> None:
        try:
            while folder.waiting:
                folder.writing = _next_statement(folder.waiting)
                await self._write_together(folder.writing)
                folder.writing = []
        finally:  # at once: an APPEND that comes next starts a writer of its own
            self._forget(key, folder)

    async def _write_together(self, batch: list[_Waiting]) -> None:
        together = batch[0].delivery
        if len(batch) > 1:
            copies = tuple(copy for each in batch for copy in each.delivery.copies)
            together = Delivery(copies, into_existing_folders=True)
        try:
            stored = await self._write(together)
        except Exception as error:
            if not isinstance(error, StorageUnavailable):  # else logged where it happened
                log.error("store.append_failed appends=%d", len(batch), exc_info=error)
            _fail(batch)
            return
        for each in batch:
            count = len(each.delivery.copies)
            answer(each.answer, None if stored is None else stored[:count])
            stored = None if stored is None else stored[count:]

    def _writer_ended(self, writer: asyncio.Task[None], key: tuple[str, str], folder: _Folder) -> None:
        self._writers.discard(writer)
        failure = None if writer.cancelled() else writer.exception()
        if failure is not None:
            log.error("store.appends_writer_failed", exc_info=failure)
        self._forget(key, folder)  # for a writer cancelled before its first step, which ran no `finally`

    def _forget(self, key: tuple[str, str], folder: _Folder) -> None:
        if self._folders.get(key) is folder:
            del self._folders[key]
        left = [each for each in [*folder.writing, *folder.waiting] if not each.answer.done()]
        if left:  # only when the writer was cancelled, or failed outside a statement
            log.error("store.appends_cut_off appends=%d", len(left))
            _fail(left)


def _next_statement(waiting: deque[_Waiting]) -> list[_Waiting]:
    """The first waiting, and those after it while one statement takes them all (its messages at most
    `MESSAGES_PER_STATEMENT`, of `prepared.ONE_STATEMENT_BYTES` in all)."""
    batch = [waiting.popleft()]
    count = len(batch[0].delivery.copies)
    size = _bytes(batch[0].delivery)
    while waiting:
        more = waiting[0].delivery
        count, size = count + len(more.copies), size + _bytes(more)
        if count > MESSAGES_PER_STATEMENT or size > prepared.ONE_STATEMENT_BYTES:
            break
        batch.append(waiting.popleft())
    return batch


def _bytes(delivery: Delivery) -> int:
    return sum(len(copy.raw) for copy in delivery.copies)


def _fail(batch: list[_Waiting]) -> None:
    for each in batch:
        answer(each.answer, not_stored())


def not_stored() -> StorageUnavailable:
    """The failure of a write whose outcome is unknown, a new one each: one raised in several tasks
    would mix their tracebacks."""
    return StorageUnavailable("the message could not be stored; try again later")


def _retrieved(answer: _Answer) -> None:
    """A failure answered to a caller that went away was logged, not lost silently."""
    if not answer.cancelled():
        answer.exception()
