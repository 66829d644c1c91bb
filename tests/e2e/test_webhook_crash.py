"""kill -9 while a webhook is being sent: after the restart it is sent again, with the same webhook-id."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fake_http import Recorded, Reply, fake_api
from tests.support.mail import send, text_message
from tests.support.server import ServerProcess, served_on
from tests.support.webhooks import new_agent

pytestmark = [pytest.mark.slow]

WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_POLL_SECONDS": "0.2",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def webhook_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    yield from served_on(request.param, tmp_path, WEBHOOK_ENV)


async def test_a_send_cut_by_kill_9_is_sent_again_after_the_restart(webhook_server: ServerProcess) -> None:
    first_arrived, release = threading.Event(), threading.Event()

    def hold_the_first(recorded: Recorded) -> Reply:
        if not first_arrived.is_set():
            first_arrived.set()
            release.wait(10)  # the server dies while this request is open
        return Reply(200, {"ok": True})

    with fake_api(hold_the_first) as receiver:
        async with httpx.AsyncClient(base_url=webhook_server.base_url, timeout=10) as client:
            agent = await new_agent(client)
            created = await client.post("/v1/webhooks", json={"url": receiver.url}, headers=agent.headers)
            assert created.status_code == 201, created.text
            await send(webhook_server.smtp_port, text_message(agent.address, "crash"), [agent.address])
            assert await asyncio.to_thread(first_arrived.wait, 10)

            webhook_server.kill()
            release.set()
            webhook_server.start()
            async with asyncio.timeout(15):
                while len(receiver.requests) < 2:  # noqa: ASYNC110 -- the receiver answers in its own thread
                    await asyncio.sleep(0.05)
            listed = await client.get(
                f"/v1/webhooks/{created.json()['id']}/deliveries", headers=agent.headers
            )

    first, again = receiver.requests[:2]
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert first.body == again.body
    [delivery] = listed.json()["deliveries"]
    assert delivery["webhook_id"] == first.headers["webhook-id"]
