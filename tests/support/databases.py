"""Test databases: a migrated SQLite file per test, and one migrated PostgreSQL database per run;
for served processes, copies of a migrated template of each backend, so `serve` finds nothing to migrate.

PostgreSQL is the server named by MAILSERVICE_TEST_POSTGRES (by default the one on 127.0.0.1:5432) when it
answers, otherwise a throwaway server that the run starts itself (tests/support/throwaway_postgres.py).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from mailservice.adapters.db.migrate import upgrade_to_head
from mailservice.adapters.db.tables import metadata
from tests.support.throwaway_postgres import ThrowawayPostgres, start_throwaway_postgres

T = TypeVar("T")

CONFIGURED_POSTGRES = os.environ.get("MAILSERVICE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PROBE_TIMEOUT_SECONDS = 3.0
started_throwaway_servers: list[ThrowawayPostgres] = []


@functools.cache
def postgres_admin_dsn() -> str:
    """The configured server if it answers, else a throwaway one started now and stopped when the run ends."""
    if _outside_any_loop(lambda: asyncio.run(_answers(CONFIGURED_POSTGRES))):
        return CONFIGURED_POSTGRES
    server = start_throwaway_postgres()
    atexit.register(server.stop)
    started_throwaway_servers.append(server)
    return server.admin_dsn


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    _outside_any_loop(lambda: upgrade_to_head(URL.create("sqlite+aiosqlite", database=str(path))))
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "mailservice.db"
    shutil.copyfile(template, target)
    return str(target)


@functools.cache
def migrated_sqlite_template() -> Path:
    """One migrated SQLite file per test run, for `migrated_sqlite_copy`; removed when the run ends."""
    directory = Path(tempfile.mkdtemp(prefix="mailservice-sqlite-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return sqlite_template(directory)


def migrated_sqlite_copy(directory: Path) -> str:
    """A migrated database at `directory`/mailservice.db, where a served process keeps it."""
    directory.mkdir(parents=True, exist_ok=True)
    return sqlite_copy(migrated_sqlite_template(), directory)


@functools.cache
def _migrated_postgres_template() -> str:
    """One migrated database per test run that new databases are copied from; dropped when the run ends."""
    dsn = create_postgres_database()
    name = make_url(dsn).database
    # at exit no loop runs, and no new thread may start
    atexit.register(lambda: asyncio.run(_execute(postgres_admin_dsn(), _drop_statement(name))))
    return str(name)


def create_migrated_postgres_database() -> str:
    """A new database that is a copy of the migrated template: quicker than migrating an empty one."""
    template = _migrated_postgres_template()
    return _create_postgres_database(f'TEMPLATE "{template}"')


def create_postgres_database() -> str:
    """Create and migrate a fresh database; returns its DSN."""
    dsn = create_empty_postgres_database()
    _outside_any_loop(lambda: upgrade_to_head(make_url(dsn).set(drivername="postgresql+asyncpg")))
    return dsn


def create_empty_postgres_database() -> str:
    return _create_postgres_database()


def _create_postgres_database(options: str = "") -> str:
    name = f"mailservice_test_{uuid.uuid4().hex[:12]}"
    admin = postgres_admin_dsn()
    _outside_any_loop(lambda: asyncio.run(_execute(admin, f'CREATE DATABASE "{name}" {options}')))
    return str(make_url(admin).set(database=name).render_as_string(hide_password=False))


def drop_postgres_database(dsn: str) -> None:
    name = make_url(dsn).database
    admin = postgres_admin_dsn()
    _outside_any_loop(lambda: asyncio.run(_execute(admin, _drop_statement(name))))


def _drop_statement(name: str | None) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


def empty_postgres_database(dsn: str) -> None:
    """Delete every row and restart every sequence: the database is as migrated again.

    DELETE, not TRUNCATE: a TRUNCATE gives each table new files, which the commit syncs to disk, so on
    the few rows a test leaves it is ten times slower."""
    deletes = "; ".join(f'DELETE FROM "{table.name}"' for table in reversed(metadata.sorted_tables))
    statements = f"SET lock_timeout = '{LEFT_OPEN_SECONDS}s'; {deletes}; {RESTART_EVERY_SEQUENCE}"
    _outside_any_loop(lambda: asyncio.run(_emptied(dsn, statements)))


LEFT_OPEN_SECONDS = 10
_LEFT_OPEN = (
    "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()"
    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
    f" AND now() - state_change > interval '{LEFT_OPEN_SECONDS // 2} seconds'"
)


async def _emptied(dsn: str, statements: str) -> None:
    """A transaction an earlier test left open, holding rows, fails this test's set-up (once: it is
    ended) instead of hanging it and every test after it."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statements)
    except asyncpg.LockNotAvailableError:
        left = await connection.fetch(_LEFT_OPEN)
        for each in left:
            await connection.execute("SELECT pg_terminate_backend($1)", each["pid"])
        raise AssertionError(
            f"an earlier test left transactions open, holding rows (now ended): {left}"
        ) from None
    finally:
        await connection.close()


RESTART_EVERY_SEQUENCE = """DO $$
DECLARE found record;
BEGIN
    FOR found IN SELECT schemaname, sequencename FROM pg_sequences LOOP
        EXECUTE format('ALTER SEQUENCE %I.%I RESTART', found.schemaname, found.sequencename);
    END LOOP;
END $$"""


def _outside_any_loop(work: Callable[[], T]) -> T:
    """Run blocking set-up work that starts its own event loop, from a fixture inside a running loop too."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(work).result()


async def _answers(dsn: str) -> bool:
    try:
        connection = await asyncpg.connect(dsn, timeout=PROBE_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def _execute(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def run_statements(url: URL, *statements: str) -> list[tuple[object, ...]]:
    """Run `statements` in one transaction, on a connection of their own (no pragmas of ours); the
    rows of the last."""

    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    result = await connection.execute(text(statement))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())
