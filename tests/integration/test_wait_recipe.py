"""The documented way to wait for a sign-up e-mail never misses one that already arrived, never hands
back a stale code, and `since` bounds it to mail received from the moment the agent started."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from mailservice.bootstrap import Runtime
from mailservice.domain.clock import FixedClock
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import mail_listeners, send, text_message


@pytest.fixture
async def smtp_port(runtime: Runtime) -> AsyncIterator[int]:
    async with mail_listeners(runtime) as (smtp, _lmtp):
        yield smtp


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    details = await claim_and_pay(client, AgentKey.generate())
    return str(details["email"]), {"Authorization": f"Bearer {details['access_token']}"}


async def wait(client: httpx.AsyncClient, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/messages/wait", params=params, headers=auth)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def code_mail(to: str, code: str, sender: str = "noreply@acme.example") -> bytes:
    return text_message(
        to, subject=f"Code {code}", body=f"Your verification code is {code}.\n", sender=sender
    )


@pytest.mark.parametrize("q", [None, "is:unread", "from:acme"])
async def test_wait_answers_at_once_with_mail_that_already_arrived(
    client: httpx.AsyncClient, smtp_port: int, agent: tuple[str, dict[str, str]], q: str | None
) -> None:
    address, auth = agent
    await send(smtp_port, code_mail(address, "482913"), [address])

    answer = await asyncio.wait_for(wait(client, auth, timeout=3, **({"q": q} if q else {})), 2)

    assert answer["timed_out"] is False
    assert answer["message"]["codes"][0]["code"] == "482913"


async def test_wait_gives_the_newest_unread_match_never_an_older_code(
    client: httpx.AsyncClient, smtp_port: int, agent: tuple[str, dict[str, str]]
) -> None:
    address, auth = agent
    await send(smtp_port, code_mail(address, "111111"), [address])
    await send(smtp_port, code_mail(address, "222222"), [address])

    answer = await wait(client, auth, timeout=3, q="from:acme")

    assert answer["message"]["codes"][0]["code"] == "222222"


async def test_wait_since_ignores_earlier_mail_and_takes_what_arrives_after(
    client: httpx.AsyncClient, smtp_port: int, agent: tuple[str, dict[str, str]], clock: FixedClock
) -> None:
    address, auth = agent
    await send(smtp_port, code_mail(address, "111111"), [address])
    clock.advance(timedelta(minutes=5))
    started = clock.now().isoformat()

    nothing = await wait(client, auth, timeout=0.3, since=started)
    waiting = asyncio.create_task(wait(client, auth, timeout=10, since=started))
    await asyncio.sleep(0)  # the wait is on its way before the mail is
    await send(smtp_port, code_mail(address, "333333"), [address])
    answer = await asyncio.wait_for(waiting, 10)

    assert nothing["timed_out"] is True
    assert answer["message"]["codes"][0]["code"] == "333333"


async def test_wait_since_finds_mail_of_the_flow_that_arrived_before_the_wait(
    client: httpx.AsyncClient, smtp_port: int, agent: tuple[str, dict[str, str]], clock: FixedClock
) -> None:
    address, auth = agent
    await send(smtp_port, code_mail(address, "111111"), [address])
    clock.advance(timedelta(minutes=5))
    started = clock.now().isoformat()
    await send(smtp_port, code_mail(address, "444444"), [address])

    answer = await wait(client, auth, timeout=3, since=started)

    assert answer["message"]["codes"][0]["code"] == "444444"


async def test_after_uid_still_means_strictly_after_even_for_read_mail(
    client: httpx.AsyncClient, smtp_port: int, agent: tuple[str, dict[str, str]]
) -> None:
    address, auth = agent
    await send(smtp_port, code_mail(address, "111111"), [address])
    await send(smtp_port, code_mail(address, "222222"), [address])
    await client.patch("/v1/messages/2", json={"seen": True}, headers=auth)

    answer = await wait(client, auth, timeout=3, after_uid=1)
    none_after = await wait(client, auth, timeout=0.3, after_uid=2)

    assert answer["message"]["uid"] == 2
    assert none_after["timed_out"] is True
