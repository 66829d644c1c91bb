"""Retention of active mailboxes on SQLite and PostgreSQL: the policy API, room made in a full mailbox
by deleting its oldest read mail, mail past its age deleted by the sweep, and what open IMAP and POP3
sessions see of it."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from sqlalchemy import update

from mailservice.adapters.db.tables import mailboxes
from mailservice.bootstrap import Runtime, build_runtime, expiry_sweep
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import FolderNotFound
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from mailservice.services.delivery import RECIPIENT_CACHE_TTL
from tests.conftest import make_settings
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import mail_listeners, send, stored_messages, text_message, used_bytes
from tests.support.pop3 import RunningPop3, running_pop3

QUOTA = 8_000
BODY = "x" * 60 + "\n"  # messages of about 1.7 kB: four fit, the fifth does not
WAIT_SECONDS = 10


@dataclass(frozen=True)
class Agent:
    mailbox_id: str
    address: str
    login: str
    password: str
    headers: dict[str, str]


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(database_dsn, tmp_path, mailbox_quota_bytes=QUOTA)


@pytest.fixture
async def smtp_port(runtime: Runtime) -> AsyncIterator[int]:
    async with mail_listeners(runtime) as (smtp, _lmtp):
        yield smtp


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> Agent:
    return await paid_agent(client)


async def deliver(port: int, agent: Agent, subject: str, lines: int = 20) -> None:
    await send(port, text_message(agent.address, subject=subject, body=BODY * lines), [agent.address])


async def subjects(runtime: Runtime, agent: Agent) -> list[str]:
    return [row["subject"] for row in await stored_messages(runtime, agent.mailbox_id)]


async def total_size(runtime: Runtime, agent: Agent) -> int:
    return sum(row["size"] for row in await stored_messages(runtime, agent.mailbox_id))


async def mark_read(client: httpx.AsyncClient, agent: Agent, uid: int) -> None:
    response = await client.patch(f"/v1/messages/{uid}", json={"seen": True}, headers=agent.headers)
    assert response.status_code == 200, response.text


async def fill(port: int, agent: Agent, clock: FixedClock) -> None:
    """Four messages, one minute apart: the mailbox cannot take a fifth."""
    for index in range(1, 5):
        await deliver(port, agent, f"m{index}")
        clock.advance(timedelta(minutes=1))


# The policy API


async def test_policy_starts_as_the_configured_default_and_changes_field_by_field(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    assert (await client.get("/v1/mailbox/retention", headers=agent.headers)).json() == {
        "max_age_days": None,
        "delete_oldest_read_when_full": True,
        "source": "default",
    }

    aged = await client.put("/v1/mailbox/retention", json={"max_age_days": 30}, headers=agent.headers)
    kept = await client.put(
        "/v1/mailbox/retention", json={"delete_oldest_read_when_full": False}, headers=agent.headers
    )
    forever = await client.put("/v1/mailbox/retention", json={"max_age_days": None}, headers=agent.headers)

    assert aged.json() == {"max_age_days": 30, "delete_oldest_read_when_full": True, "source": "mailbox"}
    assert kept.json() == {"max_age_days": 30, "delete_oldest_read_when_full": False, "source": "mailbox"}
    assert forever.json() == {
        "max_age_days": None,
        "delete_oldest_read_when_full": False,
        "source": "mailbox",
    }
    assert (await client.get("/v1/mailbox/retention", headers=agent.headers)).json() == forever.json()


BAD_POLICIES: list[Any] = [
    {"max_age_days": 0},
    {"max_age_days": -3},
    {"max_age_days": 36_501},
    {"max_age_days": "ten"},
    {"max_age_days": 1.5},
    {"delete_oldest_read_when_full": "yes"},
    {"delete_oldest_read_when_full": None, "keep": True},
    [1, 2],
]


async def test_bad_policy_values_are_400_and_change_nothing(client: httpx.AsyncClient, agent: Agent) -> None:
    for body in BAD_POLICIES:
        response = await client.put("/v1/mailbox/retention", json=body, headers=agent.headers)

        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid_request"
    assert (await client.get("/v1/mailbox/retention", headers=agent.headers)).json()["source"] == "default"


async def test_policy_needs_the_access_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/mailbox/retention")).status_code == 401
    assert (await client.put("/v1/mailbox/retention", json={"max_age_days": 3})).status_code == 401


# Making room in a full mailbox


async def test_full_mailbox_with_read_mail_takes_new_mail_and_deletes_the_oldest_read(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await fill(smtp_port, agent, clock)
    for uid in (3, 2):  # read, but not the oldest message: unread m1 stays
        await mark_read(client, agent, uid)
    clock.advance(RECIPIENT_CACHE_TTL)

    await deliver(smtp_port, agent, "m5")

    assert await subjects(runtime, agent) == ["m1", "m3", "m4", "m5"]
    assert await used_bytes(runtime, agent.mailbox_id) == await total_size(runtime, agent)


async def test_an_append_to_a_missing_folder_of_a_full_mailbox_deletes_no_read_mail(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    """The store refuses a folder that is missing before it makes room: a refused APPEND must not
    have cost the mailbox its read mail."""
    await fill(smtp_port, agent, clock)
    for uid in (1, 2):
        await mark_read(client, agent, uid)
    session = await runtime.services.mail_access.login(agent.address, agent.password, "127.0.0.1")
    raw = text_message(agent.address, subject="appended", body=BODY * 20)

    with pytest.raises(FolderNotFound):
        await session.append("Nowhere", raw, frozenset(), None)

    assert await subjects(runtime, agent) == ["m1", "m2", "m3", "m4"]


async def test_concurrent_deliveries_to_a_full_mailbox_replace_its_read_mail_oldest_first(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await fill(smtp_port, agent, clock)
    for uid in (1, 2, 3, 4):
        await mark_read(client, agent, uid)

    await asyncio.gather(*(deliver(smtp_port, agent, f"n{index}") for index in range(3)))

    assert sorted(await subjects(runtime, agent)) == ["m4", "n0", "n1", "n2"]
    assert await used_bytes(runtime, agent.mailbox_id) == await total_size(runtime, agent)


async def test_room_is_made_at_rcpt_too_when_the_mailbox_is_exactly_full(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await fill(smtp_port, agent, clock)
    await mark_read(client, agent, 1)
    await _set_quota_to_used(runtime, agent)
    clock.advance(RECIPIENT_CACHE_TTL)

    await deliver(smtp_port, agent, "m5", lines=2)

    assert await subjects(runtime, agent) == ["m2", "m3", "m4", "m5"]
    assert await used_bytes(runtime, agent.mailbox_id) == await total_size(runtime, agent)


async def test_full_mailbox_of_unread_mail_still_answers_452(
    runtime: Runtime, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await fill(smtp_port, agent, clock)
    used = await used_bytes(runtime, agent.mailbox_id)

    with pytest.raises(aiosmtplib.SMTPDataError) as at_data:
        await deliver(smtp_port, agent, "m5")
    await _set_quota_to_used(runtime, agent)
    clock.advance(RECIPIENT_CACHE_TTL)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as at_rcpt:
        await deliver(smtp_port, agent, "m6")

    assert (at_data.value.code, at_data.value.message[:5]) == (452, "4.2.2")
    assert at_rcpt.value.recipients[0].code == 452
    assert await subjects(runtime, agent) == ["m1", "m2", "m3", "m4"]
    assert await used_bytes(runtime, agent.mailbox_id) == used


async def test_read_mail_is_kept_when_the_policy_says_refuse(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await client.put(
        "/v1/mailbox/retention", json={"delete_oldest_read_when_full": False}, headers=agent.headers
    )
    await fill(smtp_port, agent, clock)
    for uid in (1, 2, 3, 4):
        await mark_read(client, agent, uid)

    with pytest.raises(aiosmtplib.SMTPDataError) as refusal:
        await deliver(smtp_port, agent, "m5")

    assert refusal.value.code == 452
    assert await subjects(runtime, agent) == ["m1", "m2", "m3", "m4"]


async def test_nothing_is_deleted_when_even_all_read_mail_would_not_make_room(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await fill(smtp_port, agent, clock)
    await mark_read(client, agent, 1)

    with pytest.raises(aiosmtplib.SMTPDataError) as refusal:
        await deliver(smtp_port, agent, "big", lines=60)

    assert refusal.value.code == 452
    assert await subjects(runtime, agent) == ["m1", "m2", "m3", "m4"]


# Age


async def test_sweep_deletes_mail_past_its_age_with_a_moving_clock(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await client.put("/v1/mailbox/retention", json={"max_age_days": 7}, headers=agent.headers)
    await deliver(smtp_port, agent, "old", lines=1)
    clock.advance(timedelta(days=3))
    await deliver(smtp_port, agent, "newer", lines=1)

    clock.advance(timedelta(days=4, seconds=-1))
    await expiry_sweep(runtime.services)
    assert await subjects(runtime, agent) == ["old", "newer"]

    clock.advance(timedelta(seconds=2))
    await expiry_sweep(runtime.services)
    assert await subjects(runtime, agent) == ["newer"]
    assert await used_bytes(runtime, agent.mailbox_id) == await total_size(runtime, agent)


async def test_sweep_follows_the_default_only_for_mailboxes_without_a_policy(
    database_dsn: str, tmp_path: Path, clock: FixedClock
) -> None:
    settings = make_settings(database_dsn, tmp_path, retention_max_age_days=2)
    runtime = await build_runtime(settings, clock)
    try:
        transport = httpx.ASGITransport(app=runtime.app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
            mail_listeners(runtime) as (smtp_port, _),
        ):
            following = await paid_agent(client)
            keeping = await paid_agent(client)
            await client.put("/v1/mailbox/retention", json={"max_age_days": None}, headers=keeping.headers)
            for agent in (following, keeping):
                await deliver(smtp_port, agent, "hello", lines=1)
            clock.advance(timedelta(days=2, seconds=1))

            deleted = await runtime.services.retention.sweep()

            assert deleted == 1
            assert await subjects(runtime, following) == []
            assert await subjects(runtime, keeping) == ["hello"]
    finally:
        await runtime.close()


# Open sessions


async def test_open_imap_session_sees_the_expunge_of_retention(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await fill(smtp_port, agent, clock)
    await mark_read(client, agent, 2)
    server = await start_imap(runtime.services.mail_access, ImapOptions(port=0, allow_plaintext_auth=True))
    host, port = server.sockets[0].getsockname()[:2]
    imap = await asyncio.to_thread(imaplib.IMAP4, host, port, timeout=WAIT_SECONDS)
    try:
        await asyncio.to_thread(imap.login, agent.address, agent.password)
        typ, data = await asyncio.to_thread(imap.select, "INBOX")
        assert (typ, data) == ("OK", [b"4"])

        await deliver(smtp_port, agent, "m5")
        await asyncio.to_thread(imap.noop)

        assert imap.response("EXPUNGE") == ("EXPUNGE", [b"2"])
        assert imap.response("EXISTS")[1][-1] == b"4"
        typ, data = await asyncio.to_thread(imap.uid, "SEARCH", "ALL")
        assert data == [b"1 3 4 5"]
        await asyncio.to_thread(imap.logout)
    finally:
        server.close()
        await server.wait_closed()


async def test_pop3_session_answers_err_for_a_message_retention_deleted_and_goes_on(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, agent: Agent, clock: FixedClock
) -> None:
    await client.put("/v1/mailbox/retention", json={"max_age_days": 1}, headers=agent.headers)
    await deliver(smtp_port, agent, "old", lines=1)
    clock.advance(timedelta(days=1, minutes=1))
    await deliver(smtp_port, agent, "new", lines=1)
    async with running_pop3(runtime.services.mail_access) as pop3:
        popped = await asyncio.to_thread(poplib.POP3, pop3.host, pop3.port, timeout=WAIT_SECONDS)
        await asyncio.to_thread(popped.user, agent.login)
        await asyncio.to_thread(popped.pass_, agent.password)
        assert (await asyncio.to_thread(popped.stat))[0] == 2

        await runtime.services.retention.sweep()

        with pytest.raises(poplib.error_proto, match="removed"):
            await asyncio.to_thread(popped.retr, 1)
        _, lines, _ = await asyncio.to_thread(popped.retr, 2)
        assert b"Subject: new" in lines
        assert (await asyncio.to_thread(popped.quit)).startswith(b"+OK")
        await _pop3_sees(pop3, agent, count=1)
    assert await subjects(runtime, agent) == ["new"]


async def _pop3_sees(pop3: RunningPop3, agent: Agent, count: int) -> None:
    again = await asyncio.to_thread(poplib.POP3, pop3.host, pop3.port, timeout=WAIT_SECONDS)
    await asyncio.to_thread(again.user, agent.login)
    await asyncio.to_thread(again.pass_, agent.password)
    assert (await asyncio.to_thread(again.stat))[0] == count
    await asyncio.to_thread(again.quit)


async def paid_agent(client: httpx.AsyncClient) -> Agent:
    details = await claim_and_pay(client, AgentKey.generate())
    return Agent(
        str(details["mailbox_id"]),
        str(details["email"]),
        str(details["username"]),
        str(details["password"]),
        {"Authorization": f"Bearer {details['access_token']}"},
    )


async def _set_quota_to_used(runtime: Runtime, agent: Agent) -> None:
    async with runtime.engine.begin() as connection:
        await connection.execute(
            update(mailboxes)
            .where(mailboxes.c.id == agent.mailbox_id)
            .values(quota_bytes=mailboxes.c.used_bytes)
        )
