"""PostgreSQL writes that run in a thread with an event loop and a connection of their own.

A group commit on PostgreSQL is a dozen round trips (BEGIN, the locks, one statement per table, COMMIT).
Run on the serving event loop, each answer waits until the loop has served whatever else is ready (SMTP
commands, parser answers, HTTP), and under load that wait, not the database, is most of a group's time.
On a loop of its own, which has nothing else to do, the answer is taken as soon as it arrives; the
serving loop only hands the work over and is told when it is committed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from mailservice.adapters.db.engine import PLANNED_ONCE, create_engine

T = TypeVar("T")

FINISH_SECONDS = 5.0

log = logging.getLogger(__name__)


class WriterThread:
    """One thread, one event loop, a pool of one connection for serial writes."""

    def __init__(self, url: URL, name: str) -> None:
        self._url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._engine: AsyncEngine | None = None

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run blocking `work` in one transaction on the thread's connection; return once committed."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._write(work), self._loop))

    async def _write(self, work: Callable[[Connection], T]) -> T:
        if self._engine is None:  # made here, so its connections belong to this thread's loop
            self._engine = create_engine(self._url, pool_size=1, server_settings=PLANNED_ONCE)
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    async def close(self) -> None:
        """Let the thread's writes end, close its connection, and end the thread."""
        if self._thread.is_alive():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._finish(), self._loop))
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
        self._loop.close()

    async def _finish(self) -> None:
        """On the thread's loop, before it stops: every write still there ended first. One whose caller
        went away was cancelled, and only its own task ends its transaction (a rollback, or, cancelled
        in the middle of a statement, its connection closed, which the server rolls back); stopped
        midway, it would stay open on the server, holding the rows it locked until the process ends.
        A write still running after `FINISH_SECONDS` (a server that does not answer) is cancelled."""
        writes = asyncio.all_tasks() - {asyncio.current_task()}
        if writes:
            _, running = await asyncio.wait(writes, timeout=FINISH_SECONDS)
            for write in running:
                write.cancel()
            if running:
                _, stuck = await asyncio.wait(running, timeout=FINISH_SECONDS)
                if stuck:  # their connections stay open, with what they hold, until the process ends
                    log.error("store.writer_thread_writes_left writes=%d", len(stuck))
        if self._engine is not None:
            await self._engine.dispose()
