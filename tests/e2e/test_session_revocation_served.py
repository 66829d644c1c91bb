"""As `mailservice serve` runs: rotating a mailbox's credentials, or its expiry, ends the IMAP, POP3,
event-stream and long-poll sessions opened before, within a few seconds."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.tables import mailboxes
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.server import ServerProcess, served_on

pytestmark = [pytest.mark.slow]

ADMIN_KEY = "admin-key-for-revocation-tests"
ENDED_WITHIN_SECONDS = 5.0


def served(request: pytest.FixtureRequest, tmp_path: Path, recheck_seconds: str) -> Iterator[ServerProcess]:
    extra = {"ADMIN_API_KEY": ADMIN_KEY, "SESSION_RECHECK_SECONDS": recheck_seconds}
    yield from served_on(request.param, tmp_path, extra)


@pytest.fixture(params=["sqlite", "postgresql"])
def event_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """Rechecks only once a minute: a session ended within seconds was ended by the event."""
    yield from served(request, tmp_path, "60")


@pytest.fixture(params=["sqlite", "postgresql"])
def recheck_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """Rechecks every second: an expiry that nothing announces is found by the recheck."""
    yield from served(request, tmp_path, "1")


@dataclass
class OpenSessions:
    imap: imaplib.IMAP4
    pop3: poplib.POP3
    stream_lines: AsyncIterator[str]
    long_poll: asyncio.Task[httpx.Response]


async def open_sessions(
    server: ServerProcess, http: httpx.AsyncClient, details: dict[str, Any]
) -> OpenSessions:
    imap = await asyncio.to_thread(imap_selected, server, details)
    pop3 = await asyncio.to_thread(pop3_logged_in, server, details)
    headers = {"Authorization": f"Bearer {details['access_token']}"}
    stream_headers = {**headers, "Accept": "text/event-stream"}
    stream = await http.send(http.build_request("GET", "/v1/events", headers=stream_headers), stream=True)
    assert stream.status_code == 200
    lines = stream.aiter_lines()
    assert await anext(lines) == "retry: 2000"
    long_poll = asyncio.create_task(http.get("/v1/messages/wait", params={"timeout": 30}, headers=headers))
    return OpenSessions(imap, pop3, lines, long_poll)


def imap_selected(server: ServerProcess, details: dict[str, Any]) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
    imap.login(details["email"], details["password"])
    assert imap.select("INBOX")[0] == "OK"
    assert imap.noop()[0] == "OK"
    return imap


def pop3_logged_in(server: ServerProcess, details: dict[str, Any]) -> poplib.POP3:
    pop3 = poplib.POP3("127.0.0.1", server.pop3_port, timeout=30)
    pop3.user(details["email"])
    pop3.pass_(details["password"])
    assert pop3.stat() == (0, 0)
    return pop3


def lines_until_closed(read_line: Any, deadline: float) -> list[bytes]:
    """What the server sends until it closes the connection; fails if it is still open at the deadline."""
    lines: list[bytes] = []
    while time.monotonic() < deadline:
        line = read_line()
        if not line:
            return lines
        lines.append(line)
    raise AssertionError(f"the connection was still open at the deadline after {lines!r}")


async def assert_all_ended(sessions: OpenSessions, long_poll_status: int) -> dict[str, Any]:
    deadline = time.monotonic() + ENDED_WITHIN_SECONDS
    sessions.imap.sock.settimeout(ENDED_WITHIN_SECONDS)
    sessions.pop3.sock.settimeout(ENDED_WITHIN_SECONDS)
    imap_lines = await asyncio.to_thread(lines_until_closed, sessions.imap.readline, deadline)
    pop3_lines = await asyncio.to_thread(lines_until_closed, sessions.pop3.file.readline, deadline)
    async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
        rest = [line async for line in sessions.stream_lines]
        answer = await sessions.long_poll
    assert [line for line in imap_lines if line.startswith(b"* BYE")], imap_lines
    assert pop3_lines and pop3_lines[-1].startswith(b"-ERR [AUTH]"), pop3_lines
    assert not [line for line in rest if line.startswith("event: message.received")]
    assert answer.status_code == long_poll_status, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_rotating_credentials_ends_every_open_session(event_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=event_server.base_url, timeout=30) as http:
        details = await claim_and_pay(http, AgentKey.generate())
        sessions = await open_sessions(event_server, http, details)

        rotated = await http.post(
            "/admin/mailboxes/reprovision",
            json={"mailbox_id": details["mailbox_id"], "rotate_credentials": True},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )

        assert rotated.status_code == 200, rotated.text
        body = await assert_all_ended(sessions, long_poll_status=401)
        assert body["code"] == "authentication_failed"


async def test_expiry_ends_every_open_session_without_any_event(recheck_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=recheck_server.base_url, timeout=30) as http:
        details = await claim_and_pay(http, AgentKey.generate())
        sessions = await open_sessions(recheck_server, http, details)

        await set_expiry(recheck_server.database_dsn, details["mailbox_id"], datetime.now(UTC) - timedelta(1))

        body = await assert_all_ended(sessions, long_poll_status=409)
        assert body["code"] == "expired"


async def set_expiry(dsn: str, mailbox_id: str, expires_at: datetime) -> None:
    """As if the paid month ran out: only the row changes, nothing is published."""
    engine = create_async_engine(async_database_url(dsn))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(mailboxes).where(mailboxes.c.id == mailbox_id).values(expires_at=expires_at)
            )
    finally:
        await engine.dispose()
