"""Events that never arrive: a delivery is answered once stored whatever the event bus is doing, and a
resync (the bus's word that events may have been missed) makes every waiter look in the store again:
the long poll, the event stream and the session watch that ends revoked sessions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
import pytest

from mailservice.adapters.events.local import InProcessEventBus
from mailservice.bootstrap import Runtime, build_runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from mailservice.domain.messages import MailboxEvent, MessageReceived
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import mail_listeners, send, text_message


class UnreliableBus(InProcessEventBus):
    """Publishing waits while held, like a bus whose connection stopped answering, and can be lost."""

    def __init__(self) -> None:
        super().__init__()
        self.released = asyncio.Event()
        self.released.set()
        self.losing = False

    async def publish(self, events: Sequence[MailboxEvent]) -> None:
        await self.released.wait()
        if not self.losing:
            await super().publish(events)


@pytest.fixture
async def runtime(settings: Settings, clock: FixedClock) -> AsyncIterator[Runtime]:
    built = await build_runtime(
        settings.model_copy(update={"session_recheck_seconds": 60}), clock, UnreliableBus()
    )
    yield built
    bus(built).released.set()
    await built.close()


def bus(runtime: Runtime) -> UnreliableBus:
    assert isinstance(runtime.events, UnreliableBus)
    return runtime.events


@pytest.fixture
async def smtp_port(runtime: Runtime) -> AsyncIterator[int]:
    async with mail_listeners(runtime) as (port, _):
        yield port


@dataclass(frozen=True)
class Agent:
    id: str
    address: str
    auth: dict[str, str]


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> Agent:
    details = await claim_and_pay(client, AgentKey.generate())
    auth = {"Authorization": f"Bearer {details['access_token']}"}
    return Agent(str(details["mailbox_id"]), str(details["email"]), auth)


async def wait_for_subscribers(runtime: Runtime, count: int) -> None:
    async with asyncio.timeout(10):
        while runtime.events.subscriber_count() < count:  # noqa: ASYNC110 -- no "subscribed" signal
            await asyncio.sleep(0.01)


async def test_deliveries_are_answered_while_their_events_wait_to_be_published(
    runtime: Runtime, agent: Agent, smtp_port: int
) -> None:
    subscription = runtime.events.subscribe(agent.id)
    bus(runtime).released.clear()
    async with asyncio.timeout(5):
        for subject in ("first", "second"):
            await send(smtp_port, text_message(agent.address, subject=subject), [agent.address])

    bus(runtime).released.set()
    heard = [await asyncio.wait_for(anext(subscription), 5) for _ in range(2)]
    subscription.close()

    assert [event.uid for event in heard if isinstance(event, MessageReceived)] == [1, 2]


async def test_a_resync_answers_a_wait_whose_message_event_was_lost(
    runtime: Runtime, client: httpx.AsyncClient, agent: Agent, smtp_port: int
) -> None:
    waiting = asyncio.create_task(client.get("/v1/messages/wait", params={"timeout": 20}, headers=agent.auth))
    await wait_for_subscribers(runtime, 2)  # the wait and its session watch
    bus(runtime).losing = True
    await send(smtp_port, text_message(agent.address, subject="unheard"), [agent.address])

    bus(runtime).resync()
    response = await asyncio.wait_for(waiting, 5)

    assert response.json()["message"]["subject"] == "unheard"


async def test_a_resync_sends_an_event_stream_the_message_whose_event_was_lost(
    runtime: Runtime, live: httpx.AsyncClient, agent: Agent, smtp_port: int
) -> None:
    headers = {**agent.auth, "Accept": "text/event-stream"}
    # From a cursor taken before: a stream "from now" takes the newest id after it subscribes, which may
    # already be the message's.
    cursor = (await live.get("/v1/events", headers=agent.auth)).json()["next_after"]
    async with live.stream("GET", "/v1/events", params={"after": cursor}, headers=headers) as stream:
        await wait_for_subscribers(runtime, 2)
        bus(runtime).losing = True
        await send(smtp_port, text_message(agent.address, subject="unheard"), [agent.address])

        bus(runtime).resync()
        lines = stream.aiter_lines()
        async with asyncio.timeout(5):
            while not (line := await anext(lines)).startswith("data: "):
                pass

    assert json.loads(line.removeprefix("data: "))["data"]["subject"] == "unheard"


async def test_a_resync_ends_sessions_whose_revocation_event_was_lost(
    runtime: Runtime, client: httpx.AsyncClient, agent: Agent
) -> None:
    waiting = asyncio.create_task(client.get("/v1/messages/wait", params={"timeout": 20}, headers=agent.auth))
    await wait_for_subscribers(runtime, 2)
    bus(runtime).losing = True
    await runtime.services.admin.reprovision(agent.id, True)

    bus(runtime).resync()
    response = await asyncio.wait_for(waiting, 5)

    assert response.status_code == 401
