"""The connections of one-statement reads and writes on PostgreSQL (`Database.read_statement`,
`Database.write_statement`): a small pool of asyncpg connections, each lent for one statement.

Not asyncpg's own pool: its acquire and release cost more CPU than the statement itself (94
microseconds per statement against 38 on one connection, bench/statement_pool_cpu.py), and every IMAP
command runs one or two of these statements on the event loop that serves every session. Here a
connection is taken from a list and given back to it, or straight to the first statement waiting
for one. What asyncpg's pool did that these statements need is kept: a connection the server closed is
replaced when taken, one whose statement was cancelled or failed outside the database is closed (it
may be in the middle of a query), and at most `max_size` are open.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class StatementPool:
    def __init__(self, connect: Connect, max_size: int) -> None:
        self._connect = connect
        self._max_size = max_size
        self._idle: list[asyncpg.Connection] = []
        self._waiting: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._open = 0
        """Connections open or being opened, idle or lent."""
        self._closed = False

    async def fetch(self, sql: str, *values: Any) -> list[asyncpg.Record]:
        connection = self._idle_connection() or await self._lent_connection()
        try:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *values)
        except asyncpg.PostgresError:
            # The database refused the statement and the connection is ready for the next one.
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
        await asyncio.gather(*(connection.close() for connection in idle), return_exceptions=True)

    def _idle_connection(self) -> asyncpg.Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._open -= 1
        return None

    async def _lent_connection(self) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the pool is closed")
        while True:
            if self._open < self._max_size:
                return await self._new_connection()
            waiting: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiting)
            try:
                given = await waiting
            except asyncio.CancelledError:
                self._pass_on(waiting)
                raise
            if given is not None and not given.is_closed():
                return given
            if given is not None:
                self._open -= 1
            # None: a connection was dropped, so there is room to open one.

    async def _new_connection(self) -> asyncpg.Connection:
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._wake_one(None)
            raise

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if self._closed or connection.is_closed() or connection.is_in_transaction():
            self._drop(connection)
        elif not self._wake_one(connection):
            self._idle.append(connection)

    def _drop(self, connection: asyncpg.Connection) -> None:
        self._open -= 1
        connection.terminate()
        self._wake_one(None)

    def _pass_on(self, waiting: asyncio.Future[asyncpg.Connection | None]) -> None:
        """What was given to a statement that went away just then goes to the next one."""
        if waiting.done() and not waiting.cancelled() and waiting.exception() is None:
            given = waiting.result()
            if given is not None:
                self._give_back(given)
            else:
                self._wake_one(None)

    def _wake_one(self, connection: asyncpg.Connection | None) -> bool:
        """Give `connection` (None: room for a new one) to the first statement still waiting."""
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_result(connection)
                return True
        return False
