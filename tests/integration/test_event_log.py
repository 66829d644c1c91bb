"""The event log: what agents are told, written in the transaction of the change, read by cursor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from mailservice.adapters.db.event_log import append_events
from mailservice.adapters.db.tables import event_log
from mailservice.bootstrap import Runtime, expiry_sweep
from mailservice.domain.agent_events import AgentEvent
from mailservice.domain.clock import FixedClock
from mailservice.domain.timestamps import rfc3339
from tests.integration.test_renewals import renew
from tests.support.agent import claim_and_pay, resolve
from tests.support.event_log import logged_events
from tests.support.keys import AgentKey
from tests.support.mail import paid_mailbox, send, text_message

EXPIRES = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


async def test_a_delivered_message_is_logged_with_what_an_agent_needs(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    mailbox = await paid_mailbox(client)
    body = "Your code is 482913.\nConfirm at https://example.com/verify?t=abc\n"
    tagged = mailbox.address.replace("@", "+signup@")

    await send(
        smtp_port, text_message(tagged, "Verify your account", body, "Shop <shop@example.org>"), [tagged]
    )

    [event] = await logged_events(runtime, mailbox.id)
    assert (event.mailbox_id, event.type) == (mailbox.id, "message.received")
    data = event.data
    assert (data["uid"], data["folder"], data["subject"]) == (1, "INBOX", "Verify your account")
    assert data["from"] == {"address": "shop@example.org", "name": "Shop"}
    assert data["to"] == [{"address": tagged, "name": None}]
    assert data["tags"] == ["signup"]
    assert data["codes"][0]["code"] == "482913"
    assert data["links"][0]["url"] == "https://example.com/verify?t=abc"
    assert data["preview"] == "Your code is 482913.\nConfirm at [1]"
    assert data["size"] > len(body) and data["received_at"] == rfc3339(event.occurred_at)
    assert (data["auth"], data["verified_domain"]) == (None, None)


async def test_events_are_read_after_a_cursor_in_order(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    mailbox = await paid_mailbox(client)
    other = await paid_mailbox(client)
    for n in range(3):
        await send(smtp_port, text_message(mailbox.address, f"m{n}"), [mailbox.address])
        await send(smtp_port, text_message(other.address, f"o{n}"), [other.address])

    first = await logged_events(runtime, mailbox.id, limit=2)
    rest = await logged_events(runtime, mailbox.id, after=first[-1].id)

    assert [e.data["subject"] for e in first + rest] == ["m0", "m1", "m2"]
    assert [e.data["uid"] for e in first + rest] == [1, 2, 3]
    assert await logged_events(runtime, mailbox.id, after=rest[-1].id) == []


async def test_expiry_notices_and_a_renewal_are_logged_once(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    mailbox_id = details["mailbox_id"]
    clock.set(EXPIRES - timedelta(days=6))  # within EVENT_RETENTION_DAYS of the sweeps below
    await runtime.services.expiry_notices.queue_due()
    await runtime.services.expiry_notices.queue_due()
    clock.set(EXPIRES + timedelta(minutes=5))
    await expiry_sweep(runtime.services)
    await expiry_sweep(runtime.services)

    events = await logged_events(runtime, mailbox_id)

    assert [(e.type, e.data) for e in events] == [
        ("mailbox.expiring", {"expires_at": rfc3339(EXPIRES)}),
        ("mailbox.expired", {"expires_at": rfc3339(EXPIRES)}),
    ]
    assert events[0].occurred_at == EXPIRES - timedelta(days=6)


async def test_a_mailbox_found_expired_lazily_logs_its_expiry_at_once_and_only_once(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    details = await claim_and_pay(client, key)
    clock.set(EXPIRES + timedelta(hours=1))

    assert (await resolve(client, key)).json()["status"] == "expired"
    at_once = await logged_events(runtime, details["mailbox_id"])
    await expiry_sweep(runtime.services)
    assert (await resolve(client, key)).json()["status"] == "expired"

    assert [(e.type, e.data, e.occurred_at) for e in at_once] == [
        ("mailbox.expired", {"expires_at": rfc3339(EXPIRES)}, EXPIRES + timedelta(hours=1))
    ]
    assert await logged_events(runtime, details["mailbox_id"]) == at_once


async def test_paying_again_logs_a_renewal(client: httpx.AsyncClient, runtime: Runtime) -> None:
    key = AgentKey.generate()
    details = await claim_and_pay(client, key)

    renewal = (await renew(client, key)).json()
    assert (await client.get(renewal["payment_url"])).status_code == 200

    [event] = await logged_events(runtime, details["mailbox_id"])
    assert (event.type, event.data) == ("mailbox.renewed", {"expires_at": "2026-03-28T12:00:00Z"})


async def test_a_second_writer_of_a_mailbox_takes_its_id_after_the_first_commits(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    if runtime.database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    mailbox = await paid_mailbox(client)
    event = AgentEvent(mailbox.id, "mailbox.renewed", clock.now(), {})

    async with runtime.engine.connect() as first, runtime.engine.connect() as second:
        await first.begin()
        await first.run_sync(lambda c: append_events(c, [event]))
        await second.begin()
        later = asyncio.create_task(second.run_sync(lambda c: append_events(c, [event])))
        done, _ = await asyncio.wait([later], timeout=0.3)
        assert not done  # waits on the mailbox row the first writer holds
        await first.commit()
        await later
        await second.commit()

    async with runtime.engine.connect() as reading:
        ids = list((await reading.execute(select(event_log.c.id).order_by(event_log.c.id))).scalars())
    assert len(ids) == 2


async def test_an_imap_append_is_logged_with_its_folder(client: httpx.AsyncClient, runtime: Runtime) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    session = await runtime.services.mail_access.login(details["email"], details["password"], "127.0.0.1")
    await session.create_folder("Archive")
    raw = text_message(details["email"], "Filed").replace(b"\n", b"\r\n")

    await session.append("Archive", raw, frozenset(), None)
    await session.append("INBOX", raw, frozenset(), None)

    events = await logged_events(runtime, details["mailbox_id"])
    assert [(e.type, e.data["folder"], e.data["uid"]) for e in events] == [
        ("message.received", "Archive", 1),
        ("message.received", "INBOX", 1),
    ]


async def test_a_delivery_waiting_for_the_mailbox_row_takes_its_event_ids_after_the_holder_s(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    """A delivery's events are logged by the statement that writes it, once it holds the mailbox row."""
    if runtime.database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    details = await claim_and_pay(client, AgentKey.generate())
    session = await runtime.services.mail_access.login(details["email"], details["password"], "127.0.0.1")
    raw = text_message(details["email"], "Waited").replace(b"\n", b"\r\n")
    event = AgentEvent(details["mailbox_id"], "mailbox.renewed", clock.now(), {})

    async with runtime.engine.connect() as holder:
        await holder.begin()
        await holder.run_sync(lambda c: append_events(c, [event]))
        appended = asyncio.create_task(session.append("INBOX", raw, frozenset(), None))
        done, _ = await asyncio.wait([appended], timeout=0.3)
        assert not done  # the delivery waits for the mailbox row
        await holder.run_sync(lambda c: append_events(c, [event]))
        await holder.commit()
        await appended

    events = await logged_events(runtime, details["mailbox_id"])
    assert [e.type for e in events] == ["mailbox.renewed", "mailbox.renewed", "message.received"]
