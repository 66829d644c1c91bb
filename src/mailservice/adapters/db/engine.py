"""Engine creation with the per-backend settings that durability and concurrency rely on."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import SingletonThreadPool

from mailservice.adapters.db.dsn import ensure_sqlite_directory, is_sqlite

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "mailservice_read_only"
ONE_STATEMENT_OPTION = "mailservice_one_statement"
"""SQLite: run each statement in its own implicit transaction (one snapshot per statement), no BEGIN."""
SAFETY_CHECKPOINT_PAGES = 50_000
PING_AFTER_IDLE_SECONDS = 10.0
"""A pooled PostgreSQL connection unused for longer is checked with a ping before it is handed out."""
_IDLE_SINCE = "mailservice_idle_since"
EVERY_CONNECTION = {"jit": "off"}
"""PostgreSQL settings for every connection of the service. No JIT compiling: PostgreSQL compiles a
statement whose estimated cost passes `jit_above_cost`, and that took about 500 ms, at every run, for
the read a SELECT makes of a folder of a few thousand messages once its table had statistics
(counting the folder's messages is estimated dear), where the read itself took 12 ms. The service's
statements are short; none gains what compiling costs."""
PLANNED_ONCE = {**EVERY_CONNECTION, "plan_cache_mode": "force_generic_plan"}
"""PostgreSQL settings for the pools of the IMAP and delivery hot paths (their writes, and the
one-statement reads asked around every IMAP command): each statement is planned once per connection.
PostgreSQL plans a prepared statement again at every run while it guesses that a plan for the given
values would be cheaper. For APPEND's one statement, given its messages as arrays to `unnest`, it
always guessed so: planning took 0.57 ms of PostgreSQL's CPU per APPEND, a fifth of its time there (so
did the delete of unshared raw messages, and a STORE one time in six); and once the tables had
statistics, the reads of a folder's changes were planned at most runs, for four times what running
them took. These statements are keyed by ids and written so that one plan serves any values (the
partial index of `\\Deleted` messages is matched by a pattern written into the statement, not bound);
a full mailbox's room made in a delivery's transaction reads its oldest read messages by mailbox,
which one index serves for any value.
The units of work (the HTTP API, the jobs: the retention sweep, the outbox's and the webhooks' claims)
and the other reads keep PostgreSQL's choice: a plan for a cutoff date, a status or a search may depend
on the value given."""


POOL_SIZE = 20
"""PostgreSQL connections of a pool: all kept once opened. A pool that opened connections beyond those it
kept (SQLAlchemy's overflow) closed each again when it came back, and under load it opened and closed
them all the time: each cost a TLS attempt, the login and its statements prepared anew, in the serving
thread (at 50 IMAP clients, a tenth of that thread's time)."""


def create_engine(
    url: URL,
    pool_size: int = POOL_SIZE,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    server_settings: dict[str, str] | None = None,
    autocommit: bool = False,
) -> AsyncEngine:
    """`pool_size`: the most connections open at once (PostgreSQL), kept once opened; a caller beyond
    them waits for one. `server_settings`: PostgreSQL settings for every connection of the pool, set
    when it connects, besides `EVERY_CONNECTION`; `autocommit`: each statement of its connections is a
    transaction of its own."""
    if is_sqlite(url):
        return _create_sqlite_engine(url)
    connect_args = {"server_settings": {**EVERY_CONNECTION, **(server_settings or {})}}
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, connect_args=connect_args, **options
    )
    check_before_use(engine.sync_engine, ping_after_idle)
    return engine


def check_before_use(engine: Engine, ping_after_seconds: float) -> None:
    """A pooled PostgreSQL connection is checked when taken from the pool, at a round trip only when
    needed. SQLAlchemy's `pool_pre_ping` pings at every checkout, and on asyncpg a ping is three round
    trips (BEGIN, a query, ROLLBACK): most of the cost of the one-statement read that follows every
    IMAP command. Here a connection the server closed (a restart, `pg_terminate_backend`) is known to the
    driver, which heard of the closed socket from the event loop, and is replaced at no cost; one idle
    for `ping_after_seconds` is pinged, for the failures a socket does not show (a silent network)."""

    @event.listens_for(engine, "checkin")
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < ping_after_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:  # the pool replaces the connection and tries again
            raise DisconnectionError(str(error)) from error


def _create_sqlite_engine(url: URL) -> AsyncEngine:
    ensure_sqlite_directory(url)
    engine = create_async_engine(url)
    configure_sqlite(engine.sync_engine)
    return engine


def create_sqlite_sync_engine(url: URL, threads: int = 1) -> Engine:
    """A blocking engine on the same file, for work done whole in worker threads (one connection each)."""
    # Each connection is used by its own thread only; closing them all at the end happens from another.
    engine = create_sync_engine(
        url.set(drivername="sqlite"),
        poolclass=SingletonThreadPool,
        pool_size=threads,
        connect_args={"check_same_thread": False},
    )
    configure_sqlite(engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def configure_connection(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so every transaction starts with BEGIN IMMEDIATE:
        # writers queue on the busy timeout instead of failing when a read lock must be upgraded.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys=ON",
            # Checkpoints run in the background (Database.checkpoint); this only bounds the WAL if they stop.
            f"PRAGMA wal_autocheckpoint={SAFETY_CHECKPOINT_PAGES}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection: Any) -> None:
        # Readers never block in WAL mode; writers take the write lock up front.
        options = connection.get_execution_options()
        if options.get(ONE_STATEMENT_OPTION, False):
            return
        connection.exec_driver_sql("BEGIN" if options.get(READ_ONLY_OPTION, False) else "BEGIN IMMEDIATE")
