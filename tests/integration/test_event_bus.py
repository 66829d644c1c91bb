"""Both event buses deliver `message.received` to the subscribers of that mailbox only."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import make_url

from mailservice.adapters.db.dsn import libpq_dsn
from mailservice.adapters.events.local import InProcessEventBus
from mailservice.adapters.events.postgres import PostgresEventBus
from mailservice.domain.messages import AccessRevoked, FolderChanged, MailboxEvent, MessageReceived

EVENT = MessageReceived(mailbox_id="a" * 32, folder_id=1, uid=7, modseq=9)


async def test_in_process_bus_delivers_to_the_mailbox_subscribers_only() -> None:
    bus = InProcessEventBus()
    mine, other = bus.subscribe(EVENT.mailbox_id), bus.subscribe("b" * 32)

    await bus.publish([EVENT])

    assert await asyncio.wait_for(anext(mine), 1) == EVENT
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(other), 0.05)
    mine.close()
    other.close()


async def test_postgres_bus_carries_events_between_nodes(postgres_dsn: str) -> None:
    dsn = libpq_dsn(make_url(postgres_dsn))
    sender, receiver = PostgresEventBus(dsn), PostgresEventBus(dsn)
    await sender.start()
    await receiver.start()
    subscription = receiver.subscribe(EVENT.mailbox_id)
    try:
        await sender.publish([EVENT])

        assert await asyncio.wait_for(anext(subscription), 5) == EVENT
    finally:
        subscription.close()
        await sender.close()
        await receiver.close()


async def test_postgres_bus_sends_the_events_of_one_commit_in_order(postgres_dsn: str) -> None:
    dsn = libpq_dsn(make_url(postgres_dsn))
    sender, receiver = PostgresEventBus(dsn), PostgresEventBus(dsn)
    await sender.start()
    await receiver.start()
    subscription = receiver.subscribe(EVENT.mailbox_id)
    events: list[MailboxEvent] = [
        MessageReceived(EVENT.mailbox_id, 1, 7, 9),
        FolderChanged(EVENT.mailbox_id, 1, 10),
        AccessRevoked(EVENT.mailbox_id),
    ]
    try:
        await sender.publish(events)

        assert [await asyncio.wait_for(anext(subscription), 5) for _ in events] == events
    finally:
        subscription.close()
        await sender.close()
        await receiver.close()


async def test_a_closed_subscription_ends_its_iteration() -> None:
    bus = InProcessEventBus()
    subscription = bus.subscribe(EVENT.mailbox_id)

    subscription.close()

    assert [event async for event in subscription] == []
