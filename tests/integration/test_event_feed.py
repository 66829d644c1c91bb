"""The event log as agents read it: JSON pages by cursor, an event stream of every event type that resumes
with Last-Event-ID after a restart, and the retention that deletes old events. Both databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from mailservice.bootstrap import Runtime, build_runtime, expiry_sweep
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import mail_listeners, send, text_message
from tests.support.ports import free_port

STREAM = {"Accept": "text/event-stream"}


@pytest.fixture
async def smtp_port(runtime: Runtime) -> AsyncIterator[int]:
    async with mail_listeners(runtime) as (port, _):
        yield port


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> dict[str, Any]:
    details = await claim_and_pay(client, AgentKey.generate())
    details["auth"] = {"Authorization": f"Bearer {details['access_token']}"}
    return details


async def deliver(smtp_port: int, agent: dict[str, Any], *subjects: str) -> None:
    for subject in subjects:
        await send(smtp_port, text_message(agent["email"], subject=subject), [agent["email"]])


async def next_event(lines: AsyncIterator[str]) -> tuple[int, dict[str, Any]]:
    """The id and the body of the stream's next event."""
    async with asyncio.timeout(5):
        while not (line := await anext(lines)).startswith("id: "):
            pass
        event_id = int(line.removeprefix("id: "))
        await anext(lines)  # event: <type>
        data = json.loads((await anext(lines)).removeprefix("data: "))
    return event_id, data


async def test_events_are_read_in_pages_after_a_cursor(
    client: httpx.AsyncClient, agent: dict[str, Any], smtp_port: int
) -> None:
    await deliver(smtp_port, agent, "one", "two", "three")

    first = (await client.get("/v1/events", params={"limit": 2}, headers=agent["auth"])).json()
    rest = (
        await client.get("/v1/events", params={"after": first["next_after"]}, headers=agent["auth"])
    ).json()
    empty = (
        await client.get("/v1/events", params={"after": rest["next_after"]}, headers=agent["auth"])
    ).json()

    events = first["events"] + rest["events"]
    assert [event["data"]["subject"] for event in events] == ["one", "two", "three"]
    assert {event["type"] for event in events} == {"message.received"}
    assert [event["data"]["uid"] for event in events] == [1, 2, 3]
    assert first["next_after"] == first["events"][-1]["id"] < rest["events"][0]["id"]
    assert empty == {"events": [], "next_after": rest["next_after"]}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "x"}])
async def test_a_bad_cursor_or_limit_is_400(
    client: httpx.AsyncClient, agent: dict[str, Any], params: dict[str, Any]
) -> None:
    response = await client.get("/v1/events", params=params, headers=agent["auth"])

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


async def test_events_need_the_mailbox_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401


async def test_the_stream_sends_every_event_type_as_it_is_logged(
    runtime: Runtime, live: httpx.AsyncClient, agent: dict[str, Any], clock: FixedClock
) -> None:
    async with live.stream("GET", "/v1/events", headers={**agent["auth"], **STREAM}) as stream:
        lines = stream.aiter_lines()
        assert await anext(lines) == "retry: 2000"
        clock.advance(timedelta(days=25))  # paid until Feb 28: within the renewal reminder's window

        await expiry_sweep(runtime.services)
        event_id, event = await next_event(lines)

    assert event["type"] == "mailbox.expiring"
    assert event["id"] == event_id
    assert "expires_at" in event["data"]


async def test_the_stream_resumes_from_last_event_id_in_a_process_that_never_heard_the_events(
    runtime: Runtime, live: httpx.AsyncClient, smtp_port: int, settings: Settings, clock: FixedClock
) -> None:
    # Another process (a node, or this service before a restart) receives the mail and is gone.
    ports = {"smtp_addr": f"127.0.0.1:{free_port()}", "lmtp_addr": f"127.0.0.1:{free_port()}"}
    earlier = await build_runtime(settings.model_copy(update=ports), clock)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=earlier.app), base_url=BASE_URL) as client,
        mail_listeners(earlier) as (earlier_smtp, _),
    ):
        agent = await claim_and_pay(client, AgentKey.generate())
        auth = {"Authorization": f"Bearer {agent['access_token']}"}
        await deliver(earlier_smtp, agent, "before", "missed")
        seen = (await client.get("/v1/events", params={"limit": 1}, headers=auth)).json()["next_after"]
    await earlier.close()

    headers = {**auth, **STREAM, "Last-Event-ID": str(seen)}
    async with live.stream("GET", "/v1/events", headers=headers) as stream:
        lines = stream.aiter_lines()
        _, missed = await next_event(lines)
        await deliver(smtp_port, agent, "after")
        _, after = await next_event(lines)

    assert (missed["data"]["subject"], after["data"]["subject"]) == ("missed", "after")


async def test_the_sweep_deletes_events_older_than_the_retention(
    runtime: Runtime, client: httpx.AsyncClient, agent: dict[str, Any], smtp_port: int, clock: FixedClock
) -> None:
    await deliver(smtp_port, agent, "old")
    clock.advance(timedelta(days=6))
    await deliver(smtp_port, agent, "recent")
    clock.advance(timedelta(days=1, seconds=1))

    purged = await runtime.services.event_feed.purge()
    left = (await client.get("/v1/events", headers=agent["auth"])).json()["events"]

    assert purged == 1
    assert [event["data"]["subject"] for event in left] == ["recent"]
