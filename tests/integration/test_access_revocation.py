"""Every way a mailbox loses its access publishes `mailbox.access_revoked` after its commit, and a pending
long poll answers at once: the periodic sweep, the lazy expiry check and a credential rotation. The
recheck interval is a minute here, so an answer within seconds came from the event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from mailservice.domain.messages import AccessRevoked
from tests.conftest import make_settings
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey

ANSWERED_WITHIN_SECONDS = 5


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(database_dsn, tmp_path, session_recheck_seconds=60)


async def long_poll_answer_after(
    runtime: Runtime, client: httpx.AsyncClient, revoke: Callable[[str], Awaitable[Any]]
) -> tuple[httpx.Response, AccessRevoked]:
    details = await claim_and_pay(client, AgentKey.generate())
    mailbox_id = str(details["mailbox_id"])
    headers = {"Authorization": f"Bearer {details['access_token']}"}
    events = runtime.services.events.subscribe(mailbox_id)
    waiting = asyncio.create_task(client.get("/v1/messages/wait", params={"timeout": 30}, headers=headers))
    async with asyncio.timeout(10):  # subscribed: this test, the long poll and its lease's watch
        while runtime.events.subscriber_count() < 3:  # noqa: ASYNC110 -- the request has no "waiting" signal
            await asyncio.sleep(0.01)

    await revoke(mailbox_id)

    async with asyncio.timeout(ANSWERED_WITHIN_SECONDS):
        answer = await waiting
        event = await anext(events)
    events.close()
    assert isinstance(event, AccessRevoked)
    return answer, event


async def test_the_sweep_ends_the_long_poll_of_a_mailbox_it_expires(
    runtime: Runtime, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    async def sweep(_mailbox_id: str) -> None:
        clock.advance(timedelta(days=40))
        assert await runtime.services.mailboxes.expire_lapsed() == 1

    answer, _ = await long_poll_answer_after(runtime, client, sweep)

    assert (answer.status_code, answer.json()["code"]) == (409, "expired")


async def test_the_lazy_expiry_ends_the_long_poll(
    runtime: Runtime, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    async def look(mailbox_id: str) -> None:
        clock.advance(timedelta(days=40))
        await runtime.services.mailboxes.current(mailbox_id)

    answer, _ = await long_poll_answer_after(runtime, client, look)

    assert (answer.status_code, answer.json()["code"]) == (409, "expired")


async def test_a_rotation_ends_the_long_poll_with_401(runtime: Runtime, client: httpx.AsyncClient) -> None:
    async def rotate(mailbox_id: str) -> None:
        await runtime.services.admin.reprovision(mailbox_id, rotate_credentials=True)

    answer, event = await long_poll_answer_after(runtime, client, rotate)

    assert (answer.status_code, answer.json()["code"]) == (401, "authentication_failed")
    assert event.type == "mailbox.access_revoked"
