"""Writes queued together share a commit on SQLite, yet each keeps its own outcome: one that raises is
rolled back alone and its caller gets the exception, while the others commit and get their results. On
PostgreSQL each write is its own transaction; the outcomes must be the same."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from mailservice.adapters.db.database import Database
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.tables import used_challenges
from mailservice.domain.errors import FolderNotFound

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def database(database_dsn: str) -> AsyncIterator[Database]:
    opened = Database(async_database_url(database_dsn))
    yield opened
    await opened.dispose()


def add(nonce: str) -> Callable[[Connection], str]:
    def work(connection: Connection) -> str:
        connection.execute(insert(used_challenges).values(nonce=nonce, expires_at=EXPIRES))
        return nonce

    return work


def add_then_refuse(nonce: str) -> Callable[[Connection], str]:
    def work(connection: Connection) -> str:
        connection.execute(insert(used_challenges).values(nonce=nonce, expires_at=EXPIRES))
        raise FolderNotFound("refused after writing")

    return work


def stored(connection: Connection) -> set[str]:
    return set(connection.execute(select(used_challenges.c.nonce)).scalars())


async def test_writes_queued_together_keep_their_own_outcomes(database: Database) -> None:
    await database.run_write(add("taken"))
    works = [add(f"n{i}") for i in range(12)]
    works[3] = add_then_refuse("refused")
    works[7] = add("taken")  # the primary key is taken: the statement itself fails

    outcomes = await asyncio.gather(*(database.run_write(work) for work in works), return_exceptions=True)

    assert isinstance(outcomes[3], FolderNotFound)
    assert isinstance(outcomes[7], IntegrityError)
    expected = {f"n{i}" for i in range(12) if i not in (3, 7)}
    assert {outcome for outcome in outcomes if isinstance(outcome, str)} == expected
    assert await database.run_read(stored) == expected | {"taken"}


async def test_a_write_after_a_refused_one_still_commits(database: Database) -> None:
    with pytest.raises(FolderNotFound):
        await database.run_write(add_then_refuse("alone"))
    assert await database.run_write(add("next")) == "next"
    assert await database.run_read(stored) == {"next"}


def durability(connection: Connection) -> str:
    """How the current write transaction's commit reaches the disk."""
    if connection.dialect.name == "sqlite":
        level = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
        return {1: "visible", 2: "durable"}[int(level)]
    setting = connection.exec_driver_sql("SHOW synchronous_commit").scalar_one()
    return {"off": "visible", "on": "durable"}[str(setting)]


async def test_writes_are_durable_unless_told_and_quick_ones_never_wait_for_an_fsync(
    database: Database,
) -> None:
    on_sqlite = database.url.get_backend_name() == "sqlite"
    assert await database.run_write(durability) == "durable"
    assert await database.run_write(durability, durable=False) == "visible"
    assert await database.run_write(durability) == "durable"
    answered: list[str] = []

    async def write(durable: bool) -> str:
        level = await database.run_write(durability, durable=durable)
        answered.append("durable" if durable else "quick")
        return level

    together = await asyncio.gather(write(True), *(write(False) for _ in range(3)))

    if on_sqlite:
        # queued together, the writes that need no fsync commit first, in a commit of their own, and
        # are answered before the durable one queued ahead of them
        assert together == ["durable", "visible", "visible", "visible"]
        assert answered == ["quick", "quick", "quick", "durable"]
    else:  # on PostgreSQL each write has a connection of its own
        assert together == ["durable", "visible", "visible", "visible"]


async def test_a_write_that_is_not_durable_is_seen_by_the_next_read(database: Database) -> None:
    await database.run_write(add("quick"), durable=False)

    assert await database.run_read(stored) == {"quick"}
    assert await database.run_read(stored, snapshot=False) == {"quick"}


async def test_on_sqlite_writes_queued_meanwhile_commit_without_waiting_for_the_event_loop(
    database: Database, database_dsn: str
) -> None:
    if database.url.get_backend_name() != "sqlite":
        pytest.skip("PostgreSQL has no write queue: each write is its own transaction")
    started, release = threading.Event(), threading.Event()

    def slow(connection: Connection) -> str:
        started.set()
        release.wait(5)
        return add("first")(connection)

    first = asyncio.ensure_future(database.run_write(slow))
    assert await asyncio.to_thread(started.wait, 5)
    queued = [asyncio.ensure_future(database.run_write(add(f"then{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # they are queued behind the first

    release.set()
    committed = _read_directly_while_the_loop_is_busy(database_dsn, seconds=0.5)

    assert committed == {"first", "then0", "then1", "then2"}
    assert await first == "first"
    assert [await write for write in queued] == ["then0", "then1", "then2"]


def _read_directly_while_the_loop_is_busy(path: str, seconds: float) -> set[str]:
    """Blocks the event loop's thread for `seconds` (as serving other sessions does), then reads."""
    time.sleep(seconds)
    with closing(sqlite3.connect(path)) as connection:
        return {row[0] for row in connection.execute("SELECT nonce FROM used_challenges")}


async def test_every_write_queued_while_the_writer_drains_the_queue_is_answered(database: Database) -> None:
    """Writes keep arriving while the writer thread takes batches off the queue: none is lost."""
    arriving: list[asyncio.Future[str]] = []
    for wave in range(20):
        for number in range(25):
            arriving.append(
                asyncio.ensure_future(database.run_write(add(f"w{wave}-{number}"), durable=False))
            )
            if number % 5 == 0:
                await asyncio.sleep(0)

    answered = await asyncio.wait_for(asyncio.gather(*arriving), 30)

    assert len(set(answered)) == 500
    assert len(await database.run_read(stored)) == 500
