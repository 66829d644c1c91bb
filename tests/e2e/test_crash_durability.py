"""kill -9 in the middle of a delivery load: every message that got a 250 is there, exactly once."""

from __future__ import annotations

import asyncio
import collections

import aiosmtplib
import httpx
import pytest
from sqlalchemy import select

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.tables import messages
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import text_message
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.parser_workers, pytest.mark.own_server]

SENDERS = 8
KILL_AFTER_ACKS = 150
KILL_DEADLINE_SECONDS = 20.0


async def paid_address(server: ServerProcess) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        details = await claim_and_pay(client, AgentKey.generate())
    return str(details["email"])


async def sender(
    server: ServerProcess,
    address: str,
    worker: int,
    acked: list[str],
    enough: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    sequence = 0
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.smtp_port, timeout=10) as smtp:
            while not stop.is_set():
                message_id = f"crash-{worker}-{sequence}"
                sequence += 1
                await smtp.sendmail("load@example.org", [address], text_message(address, subject=message_id))
                acked.append(f"<{message_id}@example.org>")
                if len(acked) >= KILL_AFTER_ACKS:
                    enough.set()
    except (aiosmtplib.SMTPException, OSError):
        return  # the server was killed under us


async def stored_message_ids(dsn: str) -> list[str]:
    engine = create_engine(async_database_url(dsn))
    try:
        async with engine.connect() as connection:
            return [row[0] for row in await connection.execute(select(messages.c.message_id))]
    finally:
        await engine.dispose()


async def test_every_acknowledged_message_survives_kill_9(server: ServerProcess) -> None:
    address = await paid_address(server)
    acked: list[str] = []
    enough, stop = asyncio.Event(), asyncio.Event()
    senders = [asyncio.create_task(sender(server, address, w, acked, enough, stop)) for w in range(SENDERS)]
    await asyncio.wait_for(enough.wait(), timeout=KILL_DEADLINE_SECONDS)

    server.kill()
    acknowledged_before_kill = list(acked)
    stop.set()
    await asyncio.gather(*senders)
    server.start()

    stored = collections.Counter(await stored_message_ids(server.database_dsn))
    assert len(acknowledged_before_kill) >= KILL_AFTER_ACKS
    assert [m for m in acknowledged_before_kill if stored[m] != 1] == []
    assert max(stored.values()) == 1
