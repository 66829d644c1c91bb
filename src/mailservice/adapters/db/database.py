"""The database handle: the engine, and on SQLite the in-process queue that writers wait in."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailservice.adapters.db.dsn import is_sqlite, libpq_dsn
from mailservice.adapters.db.engine import (
    ONE_STATEMENT_OPTION,
    PLANNED_ONCE,
    READ_ONLY_OPTION,
    SQLITE_BUSY_TIMEOUT_MS,
    create_engine,
    create_sqlite_sync_engine,
)
from mailservice.adapters.db.planner_statistics import analyze_moved_tables
from mailservice.adapters.db.prepared import Prepared
from mailservice.adapters.db.statement_pool import StatementPool
from mailservice.adapters.db.writer_thread import WriterThread

T = TypeVar("T")
SQLITE_READERS = 2
POSTGRES_READ_POOL = 10
"""Connections of the pool of one-statement reads on PostgreSQL (a `StatementPool`, which keeps them),
beside the pools of `engine.create_engine`."""
STATISTICS_SECONDS = 5.0
"""How often `keep_statistics` looks for tables to analyze (PostgreSQL)."""
POSTGRES_STATEMENT_WRITE_POOL = 10
"""Connections of the pool of `Database.write_statement` on PostgreSQL (a `StatementPool` too)."""
LOOP_READ_ROWS = 1000
"""SQLite: a one-statement read with more rows than this is read again in a reader thread, so that no
session holds the event loop for long by falling far behind a large folder's changes."""
MAX_WRITE_BATCH = 64
"""Blocking writes that share one SQLite commit at most."""
BATCHES_PER_TURN = 4
"""SQLite: batches of queued writes committed one after the other in the writer thread before the write
turn is given back (see `Database._drain_queued`)."""
# A read of several statements must see one snapshot: at READ COMMITTED, PostgreSQL's default, each
# statement sees what was committed when it started, so a folder's messages and its expunged uids read
# one after the other could disagree about a write committed between them. A read-only REPEATABLE READ
# transaction never waits and never fails on a conflict; SQLite's read transactions are snapshots anyway.
_POSTGRES_SNAPSHOT = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}

_REFUSED_BEFORE_COMMIT = frozenset({"22", "23", "42", "54", "55", "40001", "40P01"})
"""PostgreSQL's errors that end a statement before its commit, by class or by code: data exceptions,
integrity violations (a deferred one fails the commit itself), syntax and access errors, limits
exceeded, objects not in the state required, serialization failures and deadlocks. Not a lost
connection, a cancel or a shutdown (classes 08, 57), which may come after the commit, nor the rest of
class 40 (`statement_completion_unknown` says just that)."""


def refused_before_commit(error: BaseException) -> bool:
    """Whether a PostgreSQL statement committed alone that failed with `error` (as SQLAlchemy or the
    driver raised it) certainly did not commit: the server refused it before its commit. (An extension's
    commit hook that raised after the commit would belie this; none is installed.)"""
    raised: object = error
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return False
        raised = error.orig
    sqlstate = getattr(raised, "sqlstate", None)
    return isinstance(sqlstate, str) and (
        sqlstate[:2] in _REFUSED_BEFORE_COMMIT or sqlstate in _REFUSED_BEFORE_COMMIT
    )


@dataclass
class _QueuedWrite:
    work: Callable[[Connection], Any]
    future: asyncio.Future[Any]
    durable: bool


_SQLITE_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

_RELAXED_WRITES = {**PLANNED_ONCE, "synchronous_commit": "off"}

_Outcome = tuple[bool, Any]
"""(True, what the work returned) or (False, the exception it raised)."""


class Database:
    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine = create_engine(url)
        # On PostgreSQL, reads have a pool of their own: a write waiting for a row lock holds its
        # connection meanwhile, and with one pool the reads asked after every IMAP command queued
        # behind those writes for a connection (most of their time, with 50 sessions on a node).
        self._read_engine = self.engine if is_sqlite(url) else create_engine(url)
        # On PostgreSQL, writes that need not be durable at once commit on connections that do not wait
        # for the WAL's flush: their commit (and the row locks it ends) is not held for the disk. Each of
        # their statements commits on its own (see `run_write`).
        self._relaxed_engine = (
            self.engine
            if is_sqlite(url)
            else create_engine(url, server_settings=_RELAXED_WRITES, autocommit=True)
        )
        # On PostgreSQL, the durable IMAP writes of one statement each (APPEND, COPY) have a pool of their
        # own, whose statements are planned once (`PLANNED_ONCE`); the units of work, whose jobs' queries
        # may need a plan for the values given, keep PostgreSQL's choice.
        self._one_statement_engine = (
            self.engine
            if is_sqlite(url)
            else create_engine(url, server_settings=PLANNED_ONCE, autocommit=True)
        )
        # SQLite has one writer at a time; waiting here costs nothing, while waiting in SQLite's busy
        # handler means sleeping in growing steps. PostgreSQL writers need no such queue.
        self._write_lock = asyncio.Lock() if is_sqlite(url) else None
        self._waiting_for_turn = 0
        # On SQLite, a batch of statements runs whole in one worker thread: the async driver would cross
        # threads for every statement, and each crossing costs more CPU than the statement itself.
        self._sqlite_writer = create_sqlite_sync_engine(url) if is_sqlite(url) else None
        self._writer_thread = ThreadPoolExecutor(1, "sqlite-writer") if is_sqlite(url) else None
        # Reads that run several statements or return many rows run whole in a reader thread, for the same
        # reason; each reader thread keeps its own connection.
        self._sqlite_reader = create_sqlite_sync_engine(url, SQLITE_READERS) if is_sqlite(url) else None
        self._reader_threads = ThreadPoolExecutor(SQLITE_READERS, "sqlite-reader") if is_sqlite(url) else None
        self._read_only_options: dict[str, Any] = {READ_ONLY_OPTION: True}
        self._queued_writes: list[_QueuedWrite] = []
        self._batch_writer: asyncio.Task[None] | None = None
        self._group_writer: WriterThread | None = None
        self._statement_pools: dict[bool, StatementPool] = {}
        """On PostgreSQL, the driver connections of `read_statement` (False) and `write_statement` (True)."""
        self._reader_drivers = threading.local()
        self._loop_connection: sqlite3.Connection | None = None
        self._statement_pools_opened: asyncio.Lock | None = None
        if not is_sqlite(url):
            self._read_only_options |= _POSTGRES_SNAPSHOT

    @asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """Hold the right to write (a no-op on PostgreSQL)."""
        if self._write_lock is None:
            yield
            return
        self._waiting_for_turn += 1
        try:
            await self._write_lock.acquire()
        finally:
            self._waiting_for_turn -= 1
        try:
            yield
        finally:
            self._write_lock.release()

    @asynccontextmanager
    async def connection(self, read_only: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection whose transactions write (holding the write turn) or only read, each read
        transaction from one snapshot."""
        async with AsyncExitStack() as stack:
            if not read_only:
                await stack.enter_async_context(self.write_turn())
            engine = self._read_engine if read_only else self.engine
            connection = await stack.enter_async_context(engine.connect())
            if read_only:
                await connection.execution_options(**self._read_only_options)
            yield connection

    async def run_write(
        self, work: Callable[[Connection], T], durable: bool = True, statements_commit_alone: bool = False
    ) -> T:
        """Run blocking `work` in one write transaction; return once it is committed.

        On SQLite, writes queued while one commit is being made durable share the next commit (group
        commit): each runs in a savepoint of its own, in the order queued, so one that raises is rolled
        back alone and its caller gets the exception. Nobody hears of a write before its commit.

        On SQLite, a write that is not `durable` is answered once committed and visible, before its
        commit reaches the disk (synchronous=NORMAL); the writes of a batch that need no fsync commit
        first, in a transaction of their own, so they never wait for one. A crash of the machine (not
        of the process) may lose such a write, and with it only writes committed after it, since WAL
        commits become durable in commit order. The database stays consistent either way. For changes
        a client can redo (IMAP flags, expunges), as Dovecot treats them; never for new messages, whose
        UIDs must not be given twice.
        On PostgreSQL a write that is not `durable` runs on a connection whose commits do not wait for
        the WAL's flush (`synchronous_commit` off, set when the connection is made; `SET LOCAL` in each
        transaction cost a round trip and made the IMAP load slower). The same holds as on SQLite: a crash
        of the database server may lose such a write of the last moments, never a later durable one,
        since a durable commit flushes the WAL up to itself, and the database stays consistent.
        There, too, each statement of such a write is a transaction of its own, committed as it ends (no
        BEGIN and COMMIT round trips, and no row lock held from one statement to the next): such a `work`
        must be right whatever other writers commit between its statements, with each statement
        re-checking what an earlier one read (`message_changes`: one statement per change, or compare
        and set). A durable write made of such statements says `statements_commit_alone`; on SQLite,
        where one writer writes at a time, it runs as any other.
        """
        if self._sqlite_writer is None:
            if durable and statements_commit_alone:
                return await self._run_committing_each_statement(work)
            async with (self.engine if durable else self._relaxed_engine).begin() as connection:
                return await connection.run_sync(work)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued_writes.append(_QueuedWrite(work, future, durable))
        if self._batch_writer is None or self._batch_writer.done():
            self._batch_writer = asyncio.create_task(self._write_queued(), name="sqlite-batch-writer")
        return await future

    async def _run_committing_each_statement(self, work: Callable[[Connection], T]) -> T:
        """On PostgreSQL: a durable `work` on a connection of the pool of such writes, in autocommit."""
        async with self._one_statement_engine.connect() as connection:
            return await connection.run_sync(work)

    async def run_group_write(self, work: Callable[[Connection], T]) -> T:
        """`run_write` for a caller that groups its writes itself and is latency-bound, such as the
        group-commit message store: on SQLite it takes the write turn and goes straight to the writer
        thread, not through the queue of `run_write` and its task (a hop through the event loop less); on
        PostgreSQL it runs in a thread whose event loop and connection serve nothing else (see
        `writer_thread.py`)."""
        if self._sqlite_writer is not None:
            async with self.write_turn():
                outcomes = await asyncio.get_running_loop().run_in_executor(
                    self._writer_thread, self._write_sqlite, [work], True
                )
            value: T = outcomes[0][1]  # one work: what it raised came out of run_in_executor
            return value
        if self._group_writer is None:
            self._group_writer = WriterThread(self.url, "postgres-writer")
        return await self._group_writer.run_write(work)

    async def _write_queued(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queued_writes:
            async with self.write_turn():
                await loop.run_in_executor(self._writer_thread, self._drain_queued, loop)

    def _drain_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        """In the writer thread, holding the write turn: commit what is queued, batch after batch, each
        answered as soon as it is committed, until nothing is queued, or someone else waits for the turn
        (a delivery group, a unit of work), or `BATCHES_PER_TURN` batches ran.

        The next batch starts here, at once: going back to the event loop between batches left the
        writer idle until the loop, busy serving every session, resumed the task (about half the writer's
        time, while writes waited)."""
        for number in range(BATCHES_PER_TURN):
            if number and self._waiting_for_turn:
                return
            taken = self._queued_writes[:MAX_WRITE_BATCH]
            # Exactly those: the event loop's thread may have appended more meanwhile (at the end).
            del self._queued_writes[: len(taken)]
            queued = [q for q in taken if not q.future.done()]
            if not taken:
                return
            # Writes queued together were asked concurrently, so any order is theirs to have: those that
            # need no fsync are committed (and answered) first, instead of waiting in a durable commit.
            for part in ([q for q in queued if not q.durable], [q for q in queued if q.durable]):
                if part:
                    loop.call_soon_threadsafe(_answer, part, self._write_part(part))

    def _write_part(self, batch: list[_QueuedWrite]) -> list[_Outcome]:
        works = [queued.work for queued in batch]
        try:
            return self._write_sqlite(works, any(queued.durable for queued in batch))
        except Exception as error:
            if len(batch) == 1:
                return [(False, error)]
            # the commit itself failed: give each write a transaction of its own
            return [outcome for queued in batch for outcome in self._write_alone(queued.work, queued.durable)]

    def _write_alone(self, work: Callable[[Connection], Any], durable: bool) -> list[_Outcome]:
        try:
            return self._write_sqlite([work], durable)
        except Exception as error:
            return [(False, error)]

    async def run_read(self, work: Callable[[Connection], T], snapshot: bool = True) -> T:
        """Run blocking `work` in one read-only transaction (one snapshot, nothing written).

        Without `snapshot`, each statement runs on its own, which saves the BEGIN and ROLLBACK (round trips
        on PostgreSQL, statements on SQLite): for work of one statement, polled often.
        """
        if self._sqlite_reader is None:
            async with self._read_engine.connect() as connection:
                if snapshot:
                    await connection.execution_options(**self._read_only_options)
                else:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                return await connection.run_sync(work)
        # On SQLite the work runs whole in a reader thread: running it on the event loop's thread, even
        # one small statement, made every session wait longer (that thread serves them all).
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_threads, self._read_sqlite, work, snapshot
        )

    async def read_statement(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Any]:
        """The rows of one prepared statement, read on its own (one snapshot, no transaction): the reads
        asked after every IMAP command. On SQLite on the event loop's own thread, on a connection kept
        for it: the read takes tens of microseconds, and handing it to a reader thread and back cost
        more CPU than that and two waits for the interpreter lock. On PostgreSQL on a driver connection
        of its own (`StatementPool`), without SQLAlchemy's async layers (a greenlet, a pooled
        `Connection` and an execution context per read cost several times what the read does)."""
        if self._reader_threads is not None:
            found = self._read_on_loop(statement, parameters)
            if found is not None:
                return found
            # Locked (rare for a reader in WAL mode), or many rows (a session far behind a change to a
            # large folder): read in a reader thread, not on the event loop that serves every session.
            return await asyncio.get_running_loop().run_in_executor(
                self._reader_threads, self._read_statement_sqlite, statement, parameters
            )
        pool = self._statement_pools.get(False) or await self._open_statement_pool(writes=False)
        return await statement.rows_from_pool(pool, self.engine.dialect, parameters)

    async def write_statement(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Any]:
        """The rows of one statement that writes, committed alone and not durable at once (as
        `run_write(..., durable=False)`): on PostgreSQL through driver connections of its own, like
        `read_statement` (without SQLAlchemy's async layers), whose connections do not wait for the
        WAL's flush; the driver's own exceptions (asyncpg's) come out. Not the pool of the reads: a
        write waiting for a row lock holds its connection meanwhile. On SQLite a write of the writer's
        queue."""
        if self._sqlite_writer is not None:
            return await self.run_write(lambda connection: statement.rows(connection, parameters), False)
        pool = self._statement_pools.get(True) or await self._open_statement_pool(writes=True)
        return await statement.rows_from_pool(pool, self.engine.dialect, parameters)

    def _read_on_loop(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Any] | None:
        """SQLite: the rows read on the event loop's own connection; None when the database is locked or
        there are more than `LOOP_READ_ROWS` (the rest is not read)."""
        try:
            return statement.rows_on_driver_up_to(
                self._loop_reader(), self.engine.dialect, parameters, LOOP_READ_ROWS
            )
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in _SQLITE_BUSY:  # the primary code of an extended one
                raise
            return None

    async def _open_statement_pool(self, writes: bool) -> StatementPool:
        if self._statement_pools_opened is None:
            self._statement_pools_opened = asyncio.Lock()
        async with self._statement_pools_opened:
            if writes not in self._statement_pools:
                connect = partial(
                    asyncpg.connect,
                    libpq_dsn(self.url),
                    server_settings=_RELAXED_WRITES if writes else PLANNED_ONCE,
                )
                self._statement_pools[writes] = StatementPool(
                    connect, POSTGRES_STATEMENT_WRITE_POOL if writes else POSTGRES_READ_POOL
                )
        return self._statement_pools[writes]

    def _loop_reader(self) -> sqlite3.Connection:
        if self._loop_connection is None:
            # No busy timeout: a WAL reader is refused only while the database is being recovered or is
            # held exclusively, and then the read waits in a reader thread instead.
            connection = sqlite3.connect(
                self.url.database or "", isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only=ON")
            self._loop_connection = connection
        return self._loop_connection

    def _read_statement_sqlite(self, statement: Prepared, parameters: Mapping[str, Any]) -> list[Any]:
        # The reader thread's own driver connection, kept for the thread's life (its engine's pool
        # holds one per thread): a `Connection` and its checkout per read cost more than the read.
        driver = getattr(self._reader_drivers, "connection", None)
        if driver is None:
            assert self._sqlite_reader is not None
            pooled = self._sqlite_reader.raw_connection()
            self._reader_drivers.pooled = pooled
            driver = self._reader_drivers.connection = pooled.driver_connection
        return statement.rows_on_driver(driver, self.engine.dialect, parameters)

    def _read_sqlite(self, work: Callable[[Connection], T], snapshot: bool) -> T:
        assert self._sqlite_reader is not None
        with self._sqlite_reader.connect() as connection:
            connection = connection.execution_options(
                **{READ_ONLY_OPTION: True, ONE_STATEMENT_OPTION: not snapshot}
            )
            try:
                return work(connection)
            finally:
                connection.rollback()

    def _write_sqlite(self, works: list[Callable[[Connection], Any]], durable: bool) -> list[_Outcome]:
        """One transaction. A single work that raises rolls it back and the exception propagates; in a
        batch, each work has a savepoint and what it raised is returned in its place."""
        assert self._sqlite_writer is not None
        with self._sqlite_writer.connect() as connection:
            # Only between transactions; set for each, so that a new connection cannot keep a stale level.
            level = "FULL" if durable else "NORMAL"
            connection.connection.driver_connection.execute(f"PRAGMA synchronous={level}")  # type: ignore[union-attr]
            with connection.begin():
                if len(works) == 1:
                    return [(True, works[0](connection))]
                return [_in_savepoint(connection, work) for work in works]

    async def checkpoint(self) -> None:
        """Copy the SQLite WAL into the database file without blocking readers or writers.

        A checkpoint inside a delivery's commit would stall every delivery waiting behind it, so they are
        taken here, from a connection of their own, by a periodic job. A no-op on PostgreSQL.
        """
        if self._sqlite_writer is None:
            return
        await asyncio.to_thread(self._checkpoint_sqlite)

    def _checkpoint_sqlite(self) -> None:
        connection = sqlite3.connect(self.url.database or "", timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    async def keep_statistics(self) -> None:
        """PostgreSQL: analyze the service's tables whose size moved since their last ANALYZE
        (`planner_statistics.py`); a periodic job. A no-op on SQLite, whose planner needs none to use the
        indexes."""
        if self._sqlite_writer is not None:
            return
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await analyze_moved_tables(connection)

    async def dispose(self) -> None:
        if self._batch_writer is not None:
            await self._batch_writer  # writes already queued are committed and answered
        for pool in self._statement_pools.values():
            await pool.close()
        await self.engine.dispose()
        if self._relaxed_engine is not self.engine:
            await self._relaxed_engine.dispose()
        if self._one_statement_engine is not self.engine:
            await self._one_statement_engine.dispose()
        if self._group_writer is not None:
            await self._group_writer.close()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()
        if self._writer_thread is not None and self._sqlite_writer is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._sqlite_writer.dispose)
            self._writer_thread.shutdown()
        if self._loop_connection is not None:
            self._loop_connection.close()
        if self._reader_threads is not None and self._sqlite_reader is not None:
            self._reader_threads.shutdown()
            self._sqlite_reader.dispose()


def _answer(batch: list[_QueuedWrite], outcomes: list[_Outcome]) -> None:
    """On the event loop: give each queued write what its work returned or raised."""
    for queued, (ok, value) in zip(batch, outcomes, strict=True):
        if queued.future.done():
            continue
        if ok:
            queued.future.set_result(value)
        else:
            queued.future.set_exception(value)


def _in_savepoint(connection: Connection, work: Callable[[Connection], Any]) -> _Outcome:
    # Said to the driver, not through `begin_nested`, which compiles the SAVEPOINT statements anew for
    # every write of a batch; the works never use savepoints of their own.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("SAVEPOINT write")
    try:
        value = work(connection)
    except Exception as error:
        driver.execute("ROLLBACK TO SAVEPOINT write")
        driver.execute("RELEASE SAVEPOINT write")
        return False, error
    driver.execute("RELEASE SAVEPOINT write")
    return True, value
