"""Prepared statements store and read exactly what SQLAlchemy's own statements store and read."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from mailservice.adapters.db import database as database_module
from mailservice.adapters.db.prepared import Prepared, insert_rows
from mailservice.adapters.db.tables import mailboxes
from mailservice.bootstrap import Runtime

WHEN = datetime(2026, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)


def mailbox_row(number: int) -> dict[str, Any]:
    return {
        "id": f"{number:032x}",
        "login": f"mbx_{number:011x}",
        "key_fingerprint": f"fingerprint-{number}",
        "public_key": "ssh-ed25519 AAAA",
        "billing_email": "billing@example.org",
        "status": "active",
        "credential_epoch": 0,
        "created_at": WHEN,
        "updated_at": WHEN + timedelta(hours=number),
        "expires_at": None if number % 2 else WHEN,
        "used_bytes": 2**40 + number,
    }


async def test_prepared_insert_stores_what_sqlalchemy_stores(runtime: Runtime) -> None:
    prepared = [mailbox_row(n) for n in (1, 2)]
    plain = [mailbox_row(n) for n in (3, 4)]

    def write(connection: Any) -> None:
        insert_rows(connection, mailboxes, prepared)
        connection.execute(mailboxes.insert(), plain)

    await runtime.database.run_write(write)
    async with runtime.database.engine.connect() as connection:
        stored = (await connection.execute(select(mailboxes).order_by(mailboxes.c.id))).mappings().all()

    for row, expected in zip(stored, prepared + plain, strict=True):
        assert {key: row[key] for key in expected} == expected


_BY_ID = select(mailboxes.c.id, mailboxes.c.updated_at, mailboxes.c.expires_at, mailboxes.c.used_bytes).where(
    mailboxes.c.id == bindparam("id")
)
_SET_USED = update(mailboxes).where(mailboxes.c.id == bindparam("id")).values(used_bytes=bindparam("used"))


async def test_prepared_statements_read_and_write_what_sqlalchemy_does(runtime: Runtime) -> None:
    rows = [mailbox_row(n) for n in (5, 6, 7)]
    read = Prepared(_BY_ID)
    write_used = Prepared(_SET_USED)

    def write(connection: Any) -> tuple[int, int]:
        insert_rows(connection, mailboxes, rows)
        changed = write_used.run(connection, {"id": rows[0]["id"], "used": 7})
        missing = write_used.run(connection, {"id": "no such mailbox", "used": 7})
        write_used.run_many(connection, [{"id": rows[1]["id"], "used": 8}, {"id": rows[2]["id"], "used": 9}])
        return changed, missing

    assert await runtime.database.run_write(write) == (1, 0)

    def read_both(connection: Any) -> list[tuple[Any, Any]]:
        return [
            (read.first(connection, {"id": row["id"]}), connection.execute(_BY_ID, {"id": row["id"]}).one())
            for row in rows
        ]

    for prepared_row, plain_row in await runtime.database.run_read(read_both):
        assert tuple(prepared_row) == tuple(plain_row)
        assert prepared_row.updated_at.tzinfo is not None
    used = [row.used_bytes for row, _ in await runtime.database.run_read(read_both)]
    assert used == [7, 8, 9]
    assert await runtime.database.run_read(lambda c: read.first(c, {"id": "none"})) is None


async def test_a_prepared_read_alone_still_reads_one_snapshot(runtime: Runtime) -> None:
    """The first statement of a read transaction may be a prepared one: it begins the transaction as
    `execute` would, so what follows sees the same snapshot."""
    row = mailbox_row(8)
    await runtime.database.run_write(lambda c: insert_rows(c, mailboxes, [row]))
    read = Prepared(_BY_ID)

    def in_transaction(connection: Any) -> bool:
        read.first(connection, {"id": row["id"]})
        return bool(connection.in_transaction())

    assert await runtime.database.run_read(in_transaction)


def test_expanding_parameters_are_refused() -> None:
    statement = select(mailboxes.c.id).where(mailboxes.c.id.in_(bindparam("ids", expanding=True)))
    prepared = Prepared(statement)
    with pytest.raises(ValueError, match="expanding"):
        prepared._for(sqlite_dialect())


async def test_a_statement_read_on_its_own_reads_what_sqlalchemy_reads(runtime: Runtime) -> None:
    """`Database.read_statement` (the driver's own pool on PostgreSQL, the event loop's thread on SQLite)."""
    rows = [mailbox_row(n) for n in (9, 10)]
    await runtime.database.run_write(lambda c: insert_rows(c, mailboxes, rows))
    read = Prepared(_BY_ID)

    def plain(mailbox_id: str) -> Any:
        return runtime.database.run_read(lambda c: c.execute(_BY_ID, {"id": mailbox_id}).one())

    for row in rows:
        found = await runtime.database.read_statement(read, {"id": row["id"]})
        assert [tuple(found[0])] == [tuple(await plain(row["id"]))]
        assert found[0].updated_at == row["updated_at"]
    assert await runtime.database.read_statement(read, {"id": "none"}) == []


async def test_a_statement_written_on_its_own_is_committed_and_gives_its_rows(runtime: Runtime) -> None:
    """`Database.write_statement` (the driver's own pool of writes on PostgreSQL, the writer's queue on
    SQLite)."""
    row = mailbox_row(11)
    await runtime.database.run_write(lambda c: insert_rows(c, mailboxes, [row]))
    counted = Prepared(
        update(mailboxes)
        .where(mailboxes.c.id == bindparam("id"))
        .values(used_bytes=mailboxes.c.used_bytes + bindparam("added"))
        .returning(mailboxes.c.used_bytes, mailboxes.c.updated_at)
    )

    written = await runtime.database.write_statement(counted, {"id": row["id"], "added": 5})

    assert [(found.used_bytes, found.updated_at) for found in written] == [(2**40 + 16, row["updated_at"])]
    read = await runtime.database.read_statement(Prepared(_BY_ID), {"id": row["id"]})
    assert read[0].used_bytes == 2**40 + 16
    assert await runtime.database.write_statement(counted, {"id": "none", "added": 1}) == []


class _LockedConnection:
    """A connection refused as SQLite refuses a reader while another program holds the file."""

    def execute(self, *_: Any) -> Any:
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY
        raise error


async def test_a_statement_read_refused_as_locked_is_read_again_in_a_reader_thread(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event loop's own SQLite connection has no busy timeout; a read it is refused waits for the
    database in a reader thread, whose connection does, instead of blocking the loop."""
    if runtime.database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own connection for the event loop")
    rows = [mailbox_row(11)]
    await runtime.database.run_write(lambda c: insert_rows(c, mailboxes, rows))
    monkeypatch.setattr(runtime.database, "_loop_reader", _LockedConnection)
    found = await runtime.database.read_statement(Prepared(_BY_ID), {"id": rows[0]["id"]})
    assert found[0].used_bytes == rows[0]["used_bytes"]


async def test_a_statement_read_of_many_rows_is_read_in_a_reader_thread(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the event loop reads a few rows itself; past `LOOP_READ_ROWS` the read is made again
    in a reader thread, and every row is there."""
    if runtime.database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own connection for the event loop")
    rows = [mailbox_row(n) for n in (21, 22, 23)]
    await runtime.database.run_write(lambda c: insert_rows(c, mailboxes, rows))
    in_thread = []
    read_in_thread = runtime.database._read_statement_sqlite

    def counted(statement: Prepared, parameters: Any) -> list[Any]:
        in_thread.append(statement)
        return read_in_thread(statement, parameters)

    monkeypatch.setattr(runtime.database, "_read_statement_sqlite", counted)
    all_ids = Prepared(
        select(mailboxes.c.id).where(mailboxes.c.id >= bindparam("least")).order_by(mailboxes.c.id)
    )
    parameters = {"least": rows[0]["id"]}

    monkeypatch.setattr(database_module, "LOOP_READ_ROWS", 3)
    assert [row.id for row in await runtime.database.read_statement(all_ids, parameters)] == [
        r["id"] for r in rows
    ]
    assert in_thread == []

    monkeypatch.setattr(database_module, "LOOP_READ_ROWS", 2)
    assert [row.id for row in await runtime.database.read_statement(all_ids, parameters)] == [
        r["id"] for r in rows
    ]
    assert in_thread == [all_ids]
