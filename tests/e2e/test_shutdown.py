"""SIGTERM while a message is being received: the session is finished, the message checked and stored,
and only then do the checks and the parser workers stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.agent import claim_and_pay
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import Zone, dns_server
from tests.support.keys import AgentKey
from tests.support.server import ServerProcess, served_on

pytestmark = [pytest.mark.slow, pytest.mark.own_server]

SHOP = "shop.example.com"
KEY = DkimKey.rsa("s2026")
# The client is slow: it ends its message well after the server was asked to stop and stopped listening.
SLOW_CLIENT_SECONDS = 2.0
DEADLINE_SECONDS = 20.0


@pytest.fixture
async def nameserver() -> AsyncIterator[str]:
    zone = Zone()
    zone.add_txt(SHOP, "v=spf1 ip4:127.0.0.1 -all")
    zone.add_txt(f"_dmarc.{SHOP}", "v=DMARC1; p=reject")
    zone.add_txt(KEY.dns_name(SHOP), KEY.dns_record)
    async with dns_server(zone) as address:
        yield address


@pytest.fixture(
    params=[("sqlite", False), ("sqlite", True), ("postgresql", False), ("postgresql", True)],
    ids=[
        "sqlite-checks-in-place",
        "sqlite-checks-in-worker",
        "postgresql-checks-in-place",
        "postgresql-checks-in-worker",
    ],
)
def server(request: pytest.FixtureRequest, tmp_path: Path, nameserver: str) -> Iterator[ServerProcess]:
    database, workers = request.param
    env = {"SENDER_AUTH": "on", "DNS_NAMESERVERS": nameserver, "SHUTDOWN_GRACE_SECONDS": "15"}
    yield from served_on(database, tmp_path, env, parse_in_workers=workers)


async def test_a_message_finished_during_shutdown_is_checked_and_stored(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        details = await claim_and_pay(client, AgentKey.generate())
    address = str(details["email"])
    signed = KEY.sign(
        f"From: Shop <noreply@{SHOP}>\r\nTo: {address}\r\nSubject: Your code\r\n\r\nYour code is 482913.\r\n".encode(),
        SHOP,
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", server.smtp_port)
    await expect(reader, b"220")
    for command, code in (
        (f"EHLO mx.{SHOP}", b"250"),
        (f"MAIL FROM:<bounce@{SHOP}>", b"250"),
        (f"RCPT TO:<{address}>", b"250"),
        ("DATA", b"354"),
    ):
        writer.write(f"{command}\r\n".encode())
        await expect(reader, code)

    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    await until_refused(server.smtp_port)
    await asyncio.sleep(SLOW_CLIENT_SECONDS)
    writer.write(signed + b".\r\n")
    reply = await expect(reader, b"250")
    writer.write(b"QUIT\r\n")
    await expect(reader, b"221")
    writer.close()
    assert await asyncio.to_thread(server.process.wait, DEADLINE_SECONDS) == 0

    server.start()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        response = await client.get(
            "/v1/messages/1", headers={"Authorization": f"Bearer {details['access_token']}"}
        )
    stored = response.json()["message"]
    assert reply.startswith(b"250")
    assert stored["auth"]["spf"]["result"] == "pass"
    assert [s["result"] for s in stored["auth"]["dkim"]] == ["pass"]
    assert stored["auth"]["dmarc"]["result"] == "pass"
    assert stored["verified_domain"] == SHOP


async def expect(reader: asyncio.StreamReader, code: bytes) -> bytes:
    """The server's whole reply (every line of a multiline one); it must have `code`."""
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), DEADLINE_SECONDS)
        lines.append(line)
        if line[3:4] != b"-":
            break
    reply = b"".join(lines)
    assert reply.startswith(code), reply
    return reply


async def until_refused(port: int) -> None:
    """Poll until the listener no longer accepts connections: the server has begun to stop."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the SMTP listener still accepts connections")


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from served_on("sqlite", tmp_path, {"SHUTDOWN_GRACE_SECONDS": "15"})


async def test_a_session_between_transactions_is_told_421_and_does_not_hold_the_stop(
    quiet_server: ServerProcess,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", quiet_server.smtp_port)
    await expect(reader, b"220")
    writer.write(b"EHLO idle.example\r\n")
    await expect(reader, b"250")
    assert quiet_server.process is not None
    started = time.monotonic()

    quiet_server.process.send_signal(signal.SIGTERM)

    assert b"4.3.2" in await expect(reader, b"421")
    assert await asyncio.to_thread(quiet_server.process.wait, DEADLINE_SECONDS) == 0
    assert time.monotonic() - started < 5  # the grace period is 15 s
    writer.close()
