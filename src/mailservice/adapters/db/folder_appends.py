"""PostgreSQL: the node's APPENDs, each folder's written by one statement at a time, with those that
came meanwhile in it.

Each APPEND statement holds its folder's row from its lock to its commit, which waits for the WAL's
flush: the APPENDs of one folder cannot run side by side, and each waiting in the database would hold a
connection of the pool that the node's APPENDs and COPYs share. So the node sends a folder's APPENDs one
statement at a time, and the APPENDs that arrive while one is under way go together in the next: one
lock of the folder, one commit and one flush for all of them, where one each made every APPEND behind
them wait for all of those (and the folder's STOREs and EXPUNGEs for each).

An APPEND stays whole: a statement stores all its messages or none. When a statement of several APPENDs
stores nothing (the folder has gone, or the mailbox has no room for all of them), each is written again
alone, and what stores nothing then is the caller's to answer (the group-commit path).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailservice.adapters.db.append_statement import appended_in_one_statement
from mailservice.domain.errors import StorageUnavailable
from mailservice.domain.messages import Delivery, StoredCopy

log = logging.getLogger(__name__)

WriteAppend = Callable[[Delivery], Awaitable[list[StoredCopy] | None]]
"""Writes a delivery by one statement: its copies, or None when it stored nothing."""


@dataclass(frozen=True)
class _Waiting:
    delivery: Delivery
    answer: asyncio.Future[list[StoredCopy] | None]


class FolderAppends:
    def __init__(self, write: WriteAppend) -> None:
        self._write = write
        self._waiting: dict[tuple[str, str], deque[_Waiting]] = {}
        self._writers: set[asyncio.Task[None]] = set()

    async def append(self, delivery: Delivery) -> list[StoredCopy] | None:
        """`delivery` (one that `appended_in_one_statement` takes) written, alone or with others of its
        folder: its copies, or None when it stored nothing. Raises `StorageUnavailable` when the
        statement failed. A caller that goes away cancels only its wait: the delivery is still
        written, and its messages announced."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[StoredCopy] | None] = loop.create_future()
        answer.add_done_callback(_retrieved)
        first = delivery.copies[0]
        key = (first.mailbox_id, first.folder)
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = deque()
            writer = loop.create_task(self._write_folder(key, waiting), name="folder-appends")
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        waiting.append(_Waiting(delivery, answer))
        return await asyncio.shield(answer)

    async def settle(self) -> None:
        """Return once every APPEND handed in is written and answered."""
        while self._writers:
            await asyncio.gather(*self._writers, return_exceptions=True)

    async def _write_folder(self, key: tuple[str, str], waiting: deque[_Waiting]) -> None:
        batch: list[_Waiting] = []
        try:
            while waiting:
                batch = _next_statement(waiting)
                await self._write_together(batch)
        finally:
            del self._waiting[key]
            for left in [*batch, *waiting]:  # unanswered only when the writer was cancelled
                _answer(left, StorageUnavailable("the message could not be stored; try again later"))

    async def _write_together(self, batch: list[_Waiting]) -> None:
        if len(batch) == 1:
            return await self._write_alone(batch[0])
        copies = tuple(copy for each in batch for copy in each.delivery.copies)
        try:
            stored = await self._write(Delivery(copies, into_existing_folders=True))
        except Exception as error:  # the outcome may be unknown: not written again
            for each in batch:
                _answer(each, _unavailable(error))
            return
        if stored is None:
            for each in batch:
                await self._write_alone(each)
            return
        for each in batch:
            count = len(each.delivery.copies)
            _answer(each, stored[:count])
            stored = stored[count:]

    async def _write_alone(self, waiting: _Waiting) -> None:
        try:
            _answer(waiting, await self._write(waiting.delivery))
        except Exception as error:
            _answer(waiting, _unavailable(error))


def _next_statement(waiting: deque[_Waiting]) -> list[_Waiting]:
    """The first waiting, and those after it while one statement takes them all."""
    batch = [waiting.popleft()]
    copies = list(batch[0].delivery.copies)
    while waiting:
        more = [*copies, *waiting[0].delivery.copies]
        if not appended_in_one_statement(Delivery(tuple(more), into_existing_folders=True)):
            break
        batch.append(waiting.popleft())
        copies = more
    return batch


def _unavailable(error: Exception) -> StorageUnavailable:
    if isinstance(error, StorageUnavailable):  # logged where it happened
        return error
    log.error("store.append_failed", exc_info=error)
    return StorageUnavailable("the message could not be stored; try again later")


def _answer(waiting: _Waiting, outcome: list[StoredCopy] | StorageUnavailable | None) -> None:
    if waiting.answer.done():
        return
    if isinstance(outcome, StorageUnavailable):
        waiting.answer.set_exception(outcome)
    else:
        waiting.answer.set_result(outcome)


def _retrieved(answer: asyncio.Future[list[StoredCopy] | None]) -> None:
    """A failure answered to a caller that went away was logged where it happened, not lost silently."""
    if not answer.cancelled():
        answer.exception()
