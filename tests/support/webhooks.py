"""Webhook test helpers: an agent with its Bearer header, a webhook registered through the API, a receiver
on loopback that verifies signatures with the `standardwebhooks` library, and running the worker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from tests.conftest import make_settings
from tests.support.agent import claim_and_pay
from tests.support.fake_http import FakeApi, Recorded, Reply, fake_api
from tests.support.keys import AgentKey


def webhook_settings(database_dsn: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings whose webhooks may reach receivers on loopback."""
    return make_settings(database_dsn, data_dir, webhook_allow_private=True, **overrides)


@dataclass(frozen=True)
class Agent:
    mailbox_id: str
    address: str
    headers: dict[str, str]


async def new_agent(client: httpx.AsyncClient) -> Agent:
    details = await claim_and_pay(client, AgentKey.generate())
    return Agent(
        details["mailbox_id"], details["email"], {"Authorization": f"Bearer {details['access_token']}"}
    )


async def register(client: httpx.AsyncClient, agent: Agent, url: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json={"url": url, **fields}, headers=agent.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(client: httpx.AsyncClient, agent: Agent, webhook_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=agent.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


async def run_worker(runtime: Runtime) -> int:
    """Claim what is due now and wait for every send to end; how many were sent."""
    started = 0
    while True:
        claimed = await runtime.services.webhook_worker.drain_once()
        await runtime.services.webhook_worker.settle()
        started += claimed
        if claimed == 0:
            return started


class Receiver:
    """Answers `statuses` in turn (the last one from then on), after `delay` seconds each."""

    def __init__(self, api: FakeApi, statuses: list[int], delay: float) -> None:
        self.api = api
        self.statuses = statuses
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.api.url + "/hook"

    @property
    def requests(self) -> list[Recorded]:
        return self.api.requests

    def payloads(self, secret: str) -> list[dict[str, Any]]:
        """Every body received, each verified against its signature headers."""
        verifier = Webhook(secret)
        return [json.loads(json.dumps(verifier.verify(r.body, r.headers))) for r in self.requests]

    def answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            status = self.statuses[min(len(self.api.requests) - 1, len(self.statuses) - 1)]
        time.sleep(self.delay)
        with self._lock:
            self.in_flight -= 1
        return Reply(status, {"ok": status < 300})


@contextmanager
def receiver(statuses: list[int] | None = None, delay: float = 0.0) -> Iterator[Receiver]:
    holder: list[Receiver] = []
    handler: Callable[[Recorded], Reply] = lambda recorded: holder[0].answer(recorded)  # noqa: E731
    with fake_api(handler) as api:
        holder.append(Receiver(api, statuses or [200], delay))
        yield holder[0]
