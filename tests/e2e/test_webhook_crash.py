"""kill -9 while webhooks are being sent: after the restart they are sent again, with the same webhook-ids."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_http import Recorded, Reply, fake_api
from tests.support.mail import send, text_message
from tests.support.server import ServerProcess, served_on, until_ended
from tests.support.webhooks import new_agent

pytestmark = [pytest.mark.slow]

MESSAGES = 6
ANSWERED_BEFORE_THE_KILL = 2
WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_POLL_SECONDS": "0.2",
    "ADMIN_API_KEY": "admin-key-for-the-crash-test",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def webhook_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    yield from served_on(request.param, tmp_path, WEBHOOK_ENV)


async def test_sends_cut_by_kill_9_in_the_middle_of_a_batch_are_sent_again_with_their_webhook_ids(
    webhook_server: ServerProcess,
) -> None:
    """Two POSTs of the batch are answered, the others are held open when the server dies: after the
    restart every message arrives (the held ones again, with the same webhook-id and body) and every
    delivery ends succeeded."""
    held, release = threading.Event(), threading.Event()
    answered = 0
    lock = threading.Lock()

    def answer_two_then_hold(recorded: Recorded) -> Reply:
        nonlocal answered
        with lock:
            hold = answered >= ANSWERED_BEFORE_THE_KILL and not release.is_set()
            if not hold:
                answered += 1
        if hold:
            held.set()
            release.wait(10)  # the server dies while these requests are open
        return Reply(200, {"ok": True})

    with fake_api(answer_two_then_hold) as receiver:
        async with httpx.AsyncClient(base_url=webhook_server.base_url, timeout=10) as client:
            agent = await new_agent(client)
            created = await client.post("/v1/webhooks", json={"url": receiver.url}, headers=agent.headers)
            assert created.status_code == 201, created.text
            for n in range(MESSAGES):
                await send(
                    webhook_server.smtp_port, text_message(agent.address, f"crash {n}"), [agent.address]
                )
            assert await asyncio.to_thread(held.wait, 10)
            senders = webhook_server.child_pids()

            webhook_server.kill()
            await until_ended(senders)  # nothing goes on posting for a dead server
            release.set()
            webhook_server.start()
            listed = await _until_all_succeeded(client, agent.headers, created.json()["id"])
            metrics = await client.get(
                "/metrics", headers={"Authorization": f"Bearer {WEBHOOK_ENV['ADMIN_API_KEY']}"}
            )

    by_id: dict[str, list[bytes]] = {}
    for request in receiver.requests:
        by_id.setdefault(request.headers["webhook-id"], []).append(request.body)
    assert sorted(by_id) == sorted(delivery["webhook_id"] for delivery in listed)
    assert len(by_id) == MESSAGES
    assert any(len(bodies) > 1 for bodies in by_id.values())  # the held ones were sent again...
    assert all(len(set(bodies)) == 1 for bodies in by_id.values())  # ...as they were
    assert senders, "webhooks are sent from a process beside the server"
    succeeded = f'mailservice_store_rows{{status="succeeded",table="webhook_deliveries"}} {MESSAGES}.0'
    assert succeeded in metrics.text


async def _until_all_succeeded(
    client: httpx.AsyncClient, headers: dict[str, str], webhook_id: str
) -> list[dict[str, Any]]:
    async with asyncio.timeout(20):
        while True:
            listed = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=headers)
            found: list[dict[str, Any]] = listed.json()["deliveries"]
            if len(found) == MESSAGES and all(d["status"] == "succeeded" for d in found):
                return found
            await asyncio.sleep(0.1)
