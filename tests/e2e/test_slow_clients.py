"""Clients that send their request bodies slowly cannot take the served API down."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.agent import claim
from tests.support.keys import AgentKey
from tests.support.server import ServerProcess, SharedServers, served_on

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 120  # more than the default MAX_CONCURRENT_REQUESTS of 100
PROMPT_SECONDS = 5.0
DEADLINE_SECONDS = 30.0
TRICKLE_PAUSE_SECONDS = 0.2
SLOW_BODY_HEAD = (
    b"POST /v1/imap/messages HTTP/1.1\r\nHost: mailservice.test\r\n"
    b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    b'{"acc'
)

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(params=["sqlite", "postgresql"])
def patient_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """Bodies may take a minute: the slow clients stay inside for the whole test."""
    yield from served_on(request.param, tmp_path, {"HTTP_BODY_TIMEOUT_SECONDS": "60"})


@pytest.fixture(params=["sqlite", "postgresql"])
def strict_server(request: pytest.FixtureRequest, shared_servers: SharedServers) -> ServerProcess:
    return shared_servers.get(
        request.param, {"HTTP_BODY_TIMEOUT_SECONDS": "1", "HTTP_HEADER_TIMEOUT_SECONDS": "1"}
    )


@pytest.fixture
async def slow_bodies(patient_server: ServerProcess) -> AsyncIterator[list[Connection]]:
    connections = [await open_slow_body(patient_server) for _ in range(SLOW_CLIENTS)]
    yield connections
    for _, writer in connections:
        writer.close()


async def open_slow_body(server: ServerProcess) -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.http_port)
    writer.write(SLOW_BODY_HEAD)
    await writer.drain()
    return reader, writer


async def test_slow_bodies_leave_challenge_claim_landing_page_and_readiness_prompt(
    patient_server: ServerProcess, slow_bodies: list[Connection]
) -> None:
    async with httpx.AsyncClient(base_url=patient_server.base_url, timeout=DEADLINE_SECONDS) as client:
        await wait_until_reading(client, SLOW_CLIENTS)

        started = time.monotonic()
        challenge = await client.post(
            "/v1/auth/challenge", json={"public_key": AgentKey.generate().public_line}
        )
        claimed = await claim(client, AgentKey.generate())
        landing = await client.get("/")
        ready = await client.get("/readyz")
        elapsed = time.monotonic() - started

    assert [challenge.status_code, claimed.status_code, landing.status_code, ready.status_code] == [
        200,
        201,
        200,
        200,
    ]
    assert elapsed < PROMPT_SECONDS
    assert ready.json()["reading_bodies"] >= SLOW_CLIENTS
    assert ready.json()["requests_in_flight"] < ready.json()["max_concurrent_requests"]


async def test_a_body_not_received_in_time_answers_408_and_closes(strict_server: ServerProcess) -> None:
    reader, writer = await open_slow_body(strict_server)
    try:
        answer = await asyncio.wait_for(reader.read(), DEADLINE_SECONDS)  # until the server closes
    finally:
        writer.close()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {
        "error": "request body not received within 1 seconds",
        "code": "request_timeout",
    }


async def wait_until_reading(client: httpx.AsyncClient, count: int) -> None:
    """Poll /readyz until the server is reading `count` bodies at once."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        response = await client.get("/readyz")
        reading = response.json().get("reading_bodies", 0) if response.status_code == 200 else 0
        if reading >= count:
            return
        assert time.monotonic() < deadline, f"reading {reading} bodies, not {count}: {response.text}"
        await asyncio.sleep(0.05)


async def test_headers_not_received_in_time_close_the_connection(strict_server: ServerProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_server.http_port)
    writer.write(SLOW_BODY_HEAD[:40])
    await writer.drain()
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(reader.read(), DEADLINE_SECONDS)  # until the server closes
    finally:
        writer.close()

    assert answer == b""
    assert time.monotonic() - started < DEADLINE_SECONDS / 2


async def test_headers_trickled_a_byte_at_a_time_are_cut_off(strict_server: ServerProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_server.http_port)
    closed = asyncio.ensure_future(reader.read())
    started = time.monotonic()
    try:
        for byte in SLOW_BODY_HEAD:
            if closed.done() or time.monotonic() - started > DEADLINE_SECONDS:
                break
            writer.write(bytes([byte]))
            await asyncio.wait({closed}, timeout=TRICKLE_PAUSE_SECONDS)  # the pace of the trickle
    finally:
        writer.close()

    assert closed.done(), "the server kept reading headers a byte at a time"
    # A byte on its way as the server closes makes the close a reset: cut off all the same.
    assert isinstance(closed.exception(), ConnectionResetError) or closed.result() == b""
