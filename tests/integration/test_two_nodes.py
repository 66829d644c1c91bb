"""Two nodes on one PostgreSQL database: mail delivered to one wakes a `wait` on the other, and a
credential rotation on one ends the sessions open on the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mailservice.bootstrap import Runtime, build_runtime, start_access_listeners
from mailservice.config import parse_listen_address
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim_and_pay
from tests.support.databases import empty_postgres_database
from tests.support.imap_wire import idling
from tests.support.keys import AgentKey
from tests.support.mail import mail_listeners, send, text_message

ADMIN_KEY = "admin-key-for-two-node-tests"


@pytest.fixture
async def nodes(
    postgres_dsn: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    empty_postgres_database(postgres_dsn)
    # Rechecks once a minute only: a session ended within seconds was ended by the other node's event.
    options = {"admin_api_key": ADMIN_KEY, "session_recheck_seconds": 60}
    first = await build_runtime(make_settings(postgres_dsn, tmp_path / "a", **options), clock)
    second = await build_runtime(make_settings(postgres_dsn, tmp_path / "b", **options), clock)
    yield first, second
    await first.close()
    await second.close()


async def test_delivery_on_one_node_wakes_wait_on_the_other(nodes: tuple[Runtime, Runtime]) -> None:
    first, second = nodes
    transport_a, transport_b = httpx.ASGITransport(app=first.app), httpx.ASGITransport(app=second.app)
    async with (
        httpx.AsyncClient(transport=transport_a, base_url=BASE_URL) as node_a,
        httpx.AsyncClient(transport=transport_b, base_url=BASE_URL) as node_b,
        mail_listeners(first) as (smtp_port, _),
    ):
        details = await claim_and_pay(node_a, AgentKey.generate())
        headers = {"Authorization": f"Bearer {details['access_token']}"}
        waiting = asyncio.create_task(
            node_b.get("/v1/messages/wait", params={"timeout": 10}, headers=headers)
        )
        async with asyncio.timeout(10):
            while second.events.subscriber_count() == 0:  # noqa: ASYNC110 -- the request has no "waiting" signal
                await asyncio.sleep(0.01)

        await send(
            smtp_port, text_message(str(details["email"]), subject="cross node"), [str(details["email"])]
        )
        response = await asyncio.wait_for(waiting, timeout=10)

    assert response.json()["timed_out"] is False
    assert response.json()["message"]["subject"] == "cross node"


async def test_delivery_on_one_node_wakes_imap_idle_on_the_other(nodes: tuple[Runtime, Runtime]) -> None:
    first, second = nodes
    imap_servers = await start_access_listeners(second)
    transport = httpx.ASGITransport(app=first.app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url=BASE_URL) as node_a,
            mail_listeners(first) as (smtp_port, _),
        ):
            details = await claim_and_pay(node_a, AgentKey.generate())
            address = str(details["email"])
            imap_port = parse_listen_address(second.settings.imap_listen_addr, "IMAP_ADDR")[1]
            reader, writer = await idling(imap_port, address, str(details["password"]))

            await send(smtp_port, text_message(address, subject="cross node idle"), [address])
            async with asyncio.timeout(10):
                update = await reader.readline()
            writer.write(b"DONE\r\n")
            writer.close()
    finally:
        for server in imap_servers:
            server.close()

    assert update == b"* 1 EXISTS\r\n"


async def test_rotation_on_one_node_ends_imap_and_wait_sessions_on_the_other(
    nodes: tuple[Runtime, Runtime],
) -> None:
    first, second = nodes
    imap_servers = await start_access_listeners(second)
    transport_a, transport_b = httpx.ASGITransport(app=first.app), httpx.ASGITransport(app=second.app)
    try:
        async with (
            httpx.AsyncClient(transport=transport_a, base_url=BASE_URL) as node_a,
            httpx.AsyncClient(transport=transport_b, base_url=BASE_URL) as node_b,
        ):
            details = await claim_and_pay(node_a, AgentKey.generate())
            imap_port = parse_listen_address(second.settings.imap_listen_addr, "IMAP_ADDR")[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", imap_port)
            await reader.readline()
            writer.write(f"a LOGIN {details['email']} {details['password']}\r\nb SELECT INBOX\r\n".encode())
            async with asyncio.timeout(10):
                while not (await reader.readline()).startswith(b"b OK"):
                    pass
            headers = {"Authorization": f"Bearer {details['access_token']}"}
            waiting = asyncio.create_task(
                node_b.get("/v1/messages/wait", params={"timeout": 30}, headers=headers)
            )
            async with asyncio.timeout(10):  # subscribed: the IMAP session's watch and the long poll
                while second.events.subscriber_count() < 2:  # noqa: ASYNC110 -- no "waiting" signal
                    await asyncio.sleep(0.01)

            rotated = await node_a.post(
                "/admin/mailboxes/reprovision",
                json={"mailbox_id": details["mailbox_id"], "rotate_credentials": True},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            async with asyncio.timeout(5):
                goodbye = await reader.readline()
                closed = await reader.read()
                answer = await waiting
            writer.close()
    finally:
        for server in imap_servers:
            server.close()

    assert rotated.status_code == 200
    assert goodbye.startswith(b"* BYE Access revoked")
    assert closed == b""
    assert answer.status_code == 401


async def test_each_new_message_is_recent_to_one_imap_session_across_nodes(
    nodes: tuple[Runtime, Runtime],
) -> None:
    first, second = nodes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first.app), base_url=BASE_URL) as node_a:
        details = await claim_and_pay(node_a, AgentKey.generate())
    address, password = str(details["email"]), str(details["password"])
    on_a = await first.services.mail_access.login(address, password, "127.0.0.1")
    on_b = await second.services.mail_access.login(address, password, "127.0.0.1")
    folder = (await on_a.open("INBOX")).status.folder_id
    claimed: list[int] = []
    for uid in range(1, 21):
        await on_a.append(
            "INBOX", text_message(address, subject=f"m{uid}").replace(b"\n", b"\r\n"), frozenset(), None
        )
        marks = await asyncio.gather(on_a.claim_recent(folder, uid), on_b.claim_recent(folder, uid))
        claimed += [uid for mark in marks if mark < uid]

    assert claimed == list(range(1, 21))  # each message taken once, by one node's session
