"""Two nodes on one PostgreSQL database, the second losing its event listener: mail delivered through the
first while the second cannot hear it still wakes the second's long poll and IMAP IDLE once its listener
is back, within a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from mailservice.adapters.db.dsn import libpq_dsn
from mailservice.adapters.events.postgres import PostgresEventBus
from mailservice.bootstrap import Runtime, build_runtime, start_access_listeners
from mailservice.config import parse_listen_address
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.databases import empty_postgres_database
from tests.support.imap_wire import idling
from tests.support.keys import AgentKey
from tests.support.mail import mail_listeners, send, text_message


class ConnectionGate:
    """Connections to PostgreSQL that wait while the gate is shut, so a test decides when a lost
    listener may come back."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.opened = asyncio.Event()
        self.opened.set()

    async def connect(self) -> asyncpg.Connection:
        await self.opened.wait()
        return await asyncpg.connect(self.dsn)


@dataclass
class Nodes:
    first: Runtime
    second: Runtime
    second_bus: PostgresEventBus
    gate: ConnectionGate

    async def cut_second_off(self) -> None:
        """End the second node's listener and keep it from listening again until `reconnect`."""
        self.gate.opened.clear()
        admin = await asyncpg.connect(self.gate.dsn)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", self.second_bus.listener_pid())
        finally:
            await admin.close()
        async with asyncio.timeout(5):
            while self.second_bus.listening():  # noqa: ASYNC110 -- the bus has no "lost" signal
                await asyncio.sleep(0.01)

    def reconnect(self) -> float:
        self.gate.opened.set()
        return asyncio.get_running_loop().time()


@pytest.fixture
async def nodes(postgres_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Nodes]:
    empty_postgres_database(postgres_dsn)
    gate = ConnectionGate(libpq_dsn(make_url(postgres_dsn)))
    bus = PostgresEventBus(gate.dsn, gate.connect)
    options = {"session_recheck_seconds": 60}
    first = await build_runtime(make_settings(postgres_dsn, tmp_path / "a", **options), clock)
    second = await build_runtime(make_settings(postgres_dsn, tmp_path / "b", **options), clock, bus)
    yield Nodes(first, second, bus, gate)
    gate.opened.set()
    await first.close()
    await second.close()


async def test_a_wait_hears_of_mail_delivered_while_its_node_was_not_listening(nodes: Nodes) -> None:
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=nodes.first.app), base_url=BASE_URL) as node_a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=nodes.second.app), base_url=BASE_URL) as node_b,
        mail_listeners(nodes.first) as (smtp_port, _),
    ):
        details = await claim_and_pay(node_a, AgentKey.generate())
        address = str(details["email"])
        waiting = asyncio.create_task(
            node_b.get(
                "/v1/messages/wait",
                params={"timeout": 20},
                headers={"Authorization": f"Bearer {details['access_token']}"},
            )
        )
        async with asyncio.timeout(10):
            while nodes.second.events.subscriber_count() < 2:  # noqa: ASYNC110 -- the wait and its lease
                await asyncio.sleep(0.01)
        await nodes.cut_second_off()
        await send(smtp_port, text_message(address, subject="while away"), [address])

        reconnected_at = nodes.reconnect()
        response = await asyncio.wait_for(waiting, timeout=10)
        answered_after = asyncio.get_running_loop().time() - reconnected_at

    assert response.json()["timed_out"] is False
    assert response.json()["message"]["subject"] == "while away"
    assert answered_after < 1.0


async def test_imap_idle_hears_of_mail_delivered_while_its_node_was_not_listening(nodes: Nodes) -> None:
    imap_servers = await start_access_listeners(nodes.second)
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=nodes.first.app), base_url=BASE_URL
            ) as node_a,
            mail_listeners(nodes.first) as (smtp_port, _),
        ):
            details = await claim_and_pay(node_a, AgentKey.generate())
            address = str(details["email"])
            imap_port = parse_listen_address(nodes.second.settings.imap_listen_addr, "IMAP_ADDR")[1]
            reader, writer = await idling(imap_port, address, str(details["password"]))
            await nodes.cut_second_off()
            await send(smtp_port, text_message(address, subject="while away"), [address])

            reconnected_at = nodes.reconnect()
            async with asyncio.timeout(10):
                update = await reader.readline()
            answered_after = asyncio.get_running_loop().time() - reconnected_at
            writer.write(b"DONE\r\n")
            writer.close()
    finally:
        for server in imap_servers:
            server.close()

    assert update == b"* 1 EXISTS\r\n"
    assert answered_after < 1.0
