"""PostgreSQL: a statement committed alone that the server refused certainly did not commit
(`refused_before_commit`), and an APPEND refused so is written by the group-commit path; one whose
connection ended midway may have committed, and its APPEND is answered `StorageUnavailable`, never
written twice."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from mailservice.adapters.db import message_store
from mailservice.adapters.db.database import refused_before_commit
from mailservice.adapters.db.prepared import Prepared
from mailservice.adapters.db.tables import messages
from mailservice.bootstrap import Runtime
from mailservice.domain.errors import StorageUnavailable
from mailservice.domain.mail_session import MailSession
from tests.conftest import BASE_URL
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import text_message

RAW = text_message("writer@example.org", subject="refused", body="body").replace(b"\n", b"\r\n")
_SLEEPING = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep(%' AND pid <> pg_backend_pid()"
)


def skip_on_sqlite(runtime: Runtime) -> None:
    if runtime.database.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite's writes are not statements committed alone")


async def session_of_a_paid_mailbox(runtime: Runtime) -> MailSession:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url=BASE_URL) as http:
        details = await claim_and_pay(http, AgentKey.generate())
    return await runtime.services.mail_access.login(
        str(details["email"]), str(details["password"]), "127.0.0.1"
    )


async def stored_count(runtime: Runtime) -> int:
    async with runtime.database.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(messages))).scalar_one())


def divide_by_zero(connection: Connection) -> object:
    return connection.execute(text("SELECT 1 / 0")).scalar_one()


def sleep_long(connection: Connection) -> object:
    return connection.execute(text("SELECT pg_sleep(30)")).scalar_one()


async def ended_midway(runtime: Runtime, statement: asyncio.Task[object]) -> None:
    """The server process running `pg_sleep` terminated, once it runs."""
    admin = await asyncpg.connect(runtime.database.url.set(drivername="postgresql").render_as_string(False))
    try:
        async with asyncio.timeout(10):
            while not (sleeping := await admin.fetch(_SLEEPING, runtime.database.url.database)):
                assert not statement.done()
                await asyncio.sleep(0.01)
        await admin.execute("SELECT pg_terminate_backend($1)", sleeping[0]["pid"])
    finally:
        await admin.close()


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "refused"),
    [
        ("22012", True),  # division by zero
        ("23505", True),  # unique violation (a deferred one fails the commit itself)
        ("40001", True),  # serialization failure
        ("40P01", True),  # deadlock
        ("42P01", True),  # no such table
        ("54000", True),  # a limit exceeded
        ("55P03", True),  # lock not available
        ("40003", False),  # statement completion unknown
        ("57014", False),  # cancelled: may come after the commit
        ("57P01", False),  # the server shutting down
        ("08006", False),  # the connection failed
        (None, False),  # a client-side error
    ],
)
def test_only_errors_that_end_a_statement_before_its_commit_count_as_refused(
    sqlstate: str | None, refused: bool
) -> None:
    assert refused_before_commit(_DriverError(sqlstate)) is refused
    assert refused_before_commit(DBAPIError("SELECT", {}, _DriverError(sqlstate))) is refused


def test_an_error_that_invalidated_its_connection_never_counts_as_refused() -> None:
    error = DBAPIError("SELECT", {}, _DriverError("22012"), connection_invalidated=True)
    assert not refused_before_commit(error)


async def test_a_statement_the_server_refused_is_known_not_to_have_committed(runtime: Runtime) -> None:
    skip_on_sqlite(runtime)
    with pytest.raises(Exception) as refused:
        await runtime.database.run_write(divide_by_zero, statements_commit_alone=True)
    assert refused_before_commit(refused.value)


async def test_a_statement_whose_connection_ended_midway_may_have_committed(runtime: Runtime) -> None:
    skip_on_sqlite(runtime)
    statement = asyncio.create_task(runtime.database.run_write(sleep_long, statements_commit_alone=True))
    await ended_midway(runtime, statement)
    with pytest.raises(Exception) as ended:
        await asyncio.wait_for(statement, 10)
    assert not refused_before_commit(ended.value)


async def test_an_append_whose_statement_the_server_refused_is_written_by_the_group_path(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    skip_on_sqlite(runtime)
    session = await session_of_a_paid_mailbox(runtime)
    monkeypatch.setattr(message_store, "append_statement", lambda _keys: Prepared(text("SELECT 1 / 0")))

    appended = await session.append("INBOX", RAW, frozenset(), None)

    assert appended.uid == 1
    assert await stored_count(runtime) == 1


async def test_an_append_whose_statement_may_have_committed_is_not_written_again(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    skip_on_sqlite(runtime)
    session = await session_of_a_paid_mailbox(runtime)
    monkeypatch.setattr(
        message_store, "append_statement", lambda _keys: Prepared(text("SELECT pg_sleep(30)"))
    )

    appending = asyncio.create_task(session.append("INBOX", RAW, frozenset(), None))
    await ended_midway(runtime, appending)

    with pytest.raises(StorageUnavailable):
        await asyncio.wait_for(appending, 10)
    assert await stored_count(runtime) == 0
