"""The connections of one-statement reads and writes on PostgreSQL (`Database.read_statement`,
`Database.write_statement`): a small pool of asyncpg connections, each lent for one statement.

Not asyncpg's own pool: its acquire and release cost more CPU than the statement itself (94
microseconds per statement against 38 on one connection, bench/statement_pool_cpu.py), and every IMAP
command runs one or two of these statements on the event loop that serves every session. Here a
connection is taken from a list and given back to it, or straight to the first statement waiting
for one. What asyncpg's pool did that these statements need is kept:

- at most `max_size` connections are open, and a statement waiting for one is served in turn (a
  connection given back, or room for a new one, goes to the first waiting);
- a connection the server closed is replaced when taken;
- a statement cancelled midway leaves its connection to the pool: asyncpg has asked the server to
  cancel it, and the next statement on that connection waits until it has (so no statement runs on
  after its caller went away);
- one that failed outside the database (a broken connection) is closed;
- a connection idle for more than `IDLE_SECONDS` is closed when the pool is next used (asyncpg's pool
  closed it on a timer).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeAlias

import asyncpg

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
IDLE_SECONDS = 300.0
"""A connection unused longer than this is closed at the pool's next statement."""


class _Room:
    """Given to a waiting statement instead of a connection: one slot was freed and is now its own, to
    open a connection in."""


ROOM: Final = _Room()
Given: TypeAlias = "asyncpg.Connection | _Room"


class StatementPool:
    def __init__(self, connect: Connect, max_size: int) -> None:
        self._connect = connect
        self._max_size = max_size
        self._idle: list[tuple[float, asyncpg.Connection]] = []
        """With the time each was given back, oldest first."""
        self._waiting: deque[asyncio.Future[Given]] = deque()
        self._open = 0
        """Connections open, being opened, or whose slot was given to a waiting statement."""
        self._closed = False

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    @property
    def waiting_count(self) -> int:
        return sum(1 for waiting in self._waiting if not waiting.done())

    async def fetch(self, sql: str, *values: Any) -> list[asyncpg.Record]:
        connection = self._idle_connection() or await self._lent_connection()
        try:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *values)
        except (asyncpg.PostgresError, asyncio.CancelledError):
            # Refused by the database, or cancelled there (asyncpg sent the cancel request, and the
            # connection's next statement waits for it): ready for the next statement.
            self._give_back(connection)
            raise
        except BaseException:
            self._drop(connection)
            raise
        self._give_back(connection)
        return rows

    async def close(self) -> None:
        """Close the idle connections; the ones lent are closed as they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for waiting in self._waiting:
            if not waiting.done():
                waiting.set_exception(asyncpg.InterfaceError("the pool is closed"))
        self._waiting.clear()
        closed = await asyncio.gather(*(connection.close() for _, connection in idle), return_exceptions=True)
        for failure in closed:
            if failure is not None:
                log.info("db.statement_pool_close_failed error=%s", type(failure).__name__)

    def _idle_connection(self) -> asyncpg.Connection | None:
        now = asyncio.get_running_loop().time()
        while self._idle and now - self._idle[0][0] > IDLE_SECONDS:
            self._drop(self._idle.pop(0)[1])
        while self._idle:
            _, connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._drop(connection)
        return None

    async def _lent_connection(self) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the pool is closed")
            if self._open < self._max_size:
                self._open += 1
                return await self._opened()
            given = await self._wait()
            if isinstance(given, _Room):
                return await self._opened()
            if not given.is_closed():
                return given
            self._drop(given)

    async def _wait(self) -> Given:
        waiting: asyncio.Future[Given] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiting)
        try:
            return await waiting
        except asyncio.CancelledError:
            self._pass_on(waiting)
            raise

    async def _opened(self) -> asyncpg.Connection:
        """A new connection in a slot already counted."""
        try:
            return await self._connect()
        except BaseException:
            self._free_slot()
            raise

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if self._closed or connection.is_closed() or connection.is_in_transaction():
            self._drop(connection)
        elif not self._wake_one(connection):
            self._idle.append((asyncio.get_running_loop().time(), connection))

    def _drop(self, connection: asyncpg.Connection) -> None:
        """Close a connection that is broken, closed by the server (terminating it finishes the
        driver's cleanup) or idle too long, and free its slot."""
        connection.terminate()
        self._free_slot()

    def _free_slot(self) -> None:
        if self._closed or not self._wake_one(ROOM):
            self._open -= 1

    def _pass_on(self, waiting: asyncio.Future[Given]) -> None:
        """What was given to a statement that went away just then goes to the next one."""
        if waiting.done() and not waiting.cancelled() and waiting.exception() is None:
            given = waiting.result()
            if isinstance(given, _Room):
                self._free_slot()
            else:
                self._give_back(given)

    def _wake_one(self, given: Given) -> bool:
        """Give `given` to the first statement still waiting."""
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_result(given)
                return True
        return False
