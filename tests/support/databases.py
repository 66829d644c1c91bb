"""Test databases: a migrated SQLite file per test, and one migrated PostgreSQL database per run."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy.engine import URL, make_url

from mailservice.adapters.db.migrate import upgrade_to_head
from mailservice.adapters.db.tables import metadata

T = TypeVar("T")

POSTGRES_ADMIN_DSN = os.environ.get("MAILSERVICE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    _outside_any_loop(lambda: upgrade_to_head(URL.create("sqlite+aiosqlite", database=str(path))))
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "mailservice.db"
    shutil.copyfile(template, target)
    return str(target)


def create_postgres_database() -> str:
    """Create and migrate a fresh database; returns its DSN."""
    dsn = create_empty_postgres_database()
    _outside_any_loop(lambda: upgrade_to_head(make_url(dsn).set(drivername="postgresql+asyncpg")))
    return dsn


def create_empty_postgres_database() -> str:
    name = f"mailservice_test_{uuid.uuid4().hex[:12]}"
    _outside_any_loop(lambda: asyncio.run(_admin(f'CREATE DATABASE "{name}"')))
    return str(make_url(POSTGRES_ADMIN_DSN).set(database=name).render_as_string(hide_password=False))


def drop_postgres_database(dsn: str) -> None:
    name = make_url(dsn).database
    _outside_any_loop(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


def truncate_postgres_database(dsn: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in reversed(metadata.sorted_tables))
    _outside_any_loop(lambda: asyncio.run(_execute(dsn, f"TRUNCATE {tables} RESTART IDENTITY CASCADE")))


def _outside_any_loop(work: Callable[[], T]) -> T:
    """Run blocking set-up work that starts its own event loop, from a fixture inside a running loop too."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(work).result()


async def _admin(statement: str) -> None:
    await _execute(POSTGRES_ADMIN_DSN, statement)


async def _execute(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
