"""Both event buses deliver `message.received` to the subscribers of that mailbox only, and tell every
subscriber to look again (a resync) when events may have been lost."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from mailservice.adapters.db.dsn import libpq_dsn
from mailservice.adapters.events import postgres as postgres_bus
from mailservice.adapters.events.local import InProcessEventBus
from mailservice.adapters.events.postgres import PostgresEventBus
from mailservice.adapters.events.subscription import QUEUE_LIMIT
from mailservice.domain.messages import (
    AccessRevoked,
    EventLogged,
    FolderChanged,
    MailboxEvent,
    MessageReceived,
    Resync,
    Signal,
)
from mailservice.ports import Subscription

EVENT = MessageReceived(mailbox_id="a" * 32, folder_id=1, uid=7, modseq=9)


@pytest.fixture
def dsn(postgres_dsn: str) -> str:
    return libpq_dsn(make_url(postgres_dsn))


@asynccontextmanager
async def started(*buses: PostgresEventBus) -> AsyncIterator[None]:
    for bus in buses:
        await bus.start()
    try:
        yield
    finally:
        for bus in buses:
            await bus.close()


async def test_in_process_bus_delivers_to_the_mailbox_subscribers_only() -> None:
    bus = InProcessEventBus()
    mine, other = bus.subscribe(EVENT.mailbox_id), bus.subscribe("b" * 32)

    await bus.publish([EVENT])

    assert await asyncio.wait_for(anext(mine), 1) == EVENT
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(other), 0.05)
    mine.close()
    other.close()


async def test_a_reader_that_starts_before_the_last_one_is_cancelled_gets_the_next_event() -> None:
    # given a reader waiting on a subscription, a second one started, then the first cancelled
    bus = InProcessEventBus()
    subscription = bus.subscribe(EVENT.mailbox_id)
    first = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)

    # when an event comes
    await bus.publish([EVENT])

    # then the second reader has it, and a closed subscription ends its next reader
    assert await asyncio.wait_for(second, 1) == EVENT
    subscription.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(subscription), 1)


async def test_a_lagging_reader_gets_the_newest_events_and_then_the_end() -> None:
    bus = InProcessEventBus()
    subscription = bus.subscribe(EVENT.mailbox_id)
    events = [dataclasses.replace(EVENT, uid=uid) for uid in range(1, QUEUE_LIMIT + 11)]

    await bus.publish(events)
    subscription.close()

    received = [event async for event in subscription]
    assert received == events[11:]


async def next_of(subscription: Subscription) -> Signal:
    return await asyncio.wait_for(anext(subscription), 5)


async def test_postgres_bus_carries_events_between_nodes(dsn: str) -> None:
    sender, receiver = PostgresEventBus(dsn), PostgresEventBus(dsn)
    async with started(sender, receiver):
        subscription = receiver.subscribe(EVENT.mailbox_id)

        await sender.publish([EVENT])

        assert await next_of(subscription) == EVENT


async def test_postgres_bus_sends_the_events_of_one_commit_in_order(dsn: str) -> None:
    sender, receiver = PostgresEventBus(dsn), PostgresEventBus(dsn)
    events: list[MailboxEvent] = [
        MessageReceived(EVENT.mailbox_id, 1, 7, 9),
        FolderChanged(EVENT.mailbox_id, 1, 10),
        AccessRevoked(EVENT.mailbox_id),
        EventLogged(EVENT.mailbox_id),
    ]
    async with started(sender, receiver):
        subscription = receiver.subscribe(EVENT.mailbox_id)

        await sender.publish(events)

        assert [await next_of(subscription) for _ in events] == events


async def test_a_closed_subscription_ends_its_iteration() -> None:
    bus = InProcessEventBus()
    subscription = bus.subscribe(EVENT.mailbox_id)

    subscription.close()

    assert [event async for event in subscription] == []


async def test_in_process_resync_reaches_every_subscription_of_the_process() -> None:
    bus = InProcessEventBus()
    mine, other = bus.subscribe(EVENT.mailbox_id), bus.subscribe("b" * 32)

    bus.resync()

    assert await asyncio.wait_for(anext(mine), 1) == Resync(EVENT.mailbox_id)
    assert await asyncio.wait_for(anext(other), 1) == Resync("b" * 32)
    mine.close()
    other.close()


class FlakyConnect:
    """Connects to PostgreSQL, except that the next `failures` attempts fail or never answer."""

    def __init__(self, dsn: str, failures: int = 0, hang: bool = False) -> None:
        self.dsn = dsn
        self.failures = failures
        self.hang = hang
        self.attempts = 0

    async def __call__(self) -> asyncpg.Connection:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            if self.hang:
                await asyncio.Event().wait()
            raise OSError("connection refused")
        return await asyncpg.connect(self.dsn)


async def terminate(dsn: str, pid: int | None) -> None:
    assert pid is not None
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_postgres_bus_resyncs_its_subscribers_when_its_listener_comes_back(dsn: str) -> None:
    sender, receiver = PostgresEventBus(dsn), PostgresEventBus(dsn)
    async with started(sender, receiver):
        subscription = receiver.subscribe(EVENT.mailbox_id)
        lost_pid = receiver.listener_pid()

        await terminate(dsn, lost_pid)

        assert await next_of(subscription) == Resync(EVENT.mailbox_id)
        assert receiver.listening() and receiver.listener_pid() != lost_pid
        await sender.publish([EVENT])
        assert await next_of(subscription) == EVENT


async def test_postgres_bus_keeps_trying_to_listen_until_the_database_answers(dsn: str) -> None:
    connect = FlakyConnect(dsn)
    receiver = PostgresEventBus(dsn, connect)
    async with started(receiver):
        subscription = receiver.subscribe(EVENT.mailbox_id)
        connect.failures = 2

        await terminate(dsn, receiver.listener_pid())

        assert await next_of(subscription) == Resync(EVENT.mailbox_id)
        assert connect.attempts == 4  # the first listener, two refused, the one that listens


async def test_postgres_publish_on_a_lost_connection_is_retried_on_a_fresh_one(dsn: str) -> None:
    sender, receiver = PostgresEventBus(dsn), PostgresEventBus(dsn)
    async with started(sender, receiver):
        subscription = receiver.subscribe(EVENT.mailbox_id)
        await sender.publish([FolderChanged(EVENT.mailbox_id, 1, 1)])
        assert await next_of(subscription) == FolderChanged(EVENT.mailbox_id, 1, 1)
        await terminate(dsn, sender.publisher_pid())

        await sender.publish([EVENT])

        assert await next_of(subscription) == EVENT


async def test_a_publish_that_fails_twice_resyncs_this_node_at_once_and_the_others_when_it_can(
    dsn: str,
) -> None:
    sender_connect = FlakyConnect(dsn)
    sender, receiver = PostgresEventBus(dsn, sender_connect), PostgresEventBus(dsn)
    async with started(sender, receiver):
        here, there = sender.subscribe(EVENT.mailbox_id), receiver.subscribe(EVENT.mailbox_id)
        sender_connect.failures = 2

        with pytest.raises(OSError):
            await sender.publish([EVENT])

        assert await next_of(here) == Resync(EVENT.mailbox_id)  # at once
        assert await next_of(there) == Resync(EVENT.mailbox_id)  # by the notice
        assert await next_of(here) == Resync(EVENT.mailbox_id)  # the notice, heard here too


async def test_a_publish_to_a_database_that_never_answers_gives_up_in_bounded_time(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_bus, "CONNECT_TIMEOUT_SECONDS", 0.05)
    connect = FlakyConnect(dsn)
    sender = PostgresEventBus(dsn, connect)
    async with started(sender):
        connect.failures, connect.hang = 2, True

        async with asyncio.timeout(2):
            with pytest.raises(TimeoutError):
                await sender.publish([EVENT])


class HeldPublishes:
    """Connects to PostgreSQL; on the connections it makes, the `execute` (a publish) of the number
    `held` (the first by default) waits until let go, and every one is counted with its payloads."""

    def __init__(self, dsn: str, held: int = 1) -> None:
        self.dsn = dsn
        self.held = held
        self.sent: list[list[str]] = []
        self.under_way = asyncio.Event()
        self.let_go = asyncio.Event()

    async def __call__(self) -> HeldPublishes.Connection:
        return HeldPublishes.Connection(self, await asyncpg.connect(self.dsn))

    class Connection:
        def __init__(self, held: HeldPublishes, connection: asyncpg.Connection) -> None:
            self._held, self._connection = held, connection

        def __getattr__(self, name: str) -> object:
            return getattr(self._connection, name)

        async def execute(self, query: str, channel: str, payloads: list[str], **named: object) -> object:
            self._held.sent.append(list(payloads))
            if len(self._held.sent) == self._held.held:
                self._held.under_way.set()
                await self._held.let_go.wait()
            return await self._connection.execute(query, channel, payloads, **named)


async def test_publishes_that_come_while_one_is_under_way_go_out_together_in_order(dsn: str) -> None:
    held = HeldPublishes(dsn)
    sender, receiver = PostgresEventBus(dsn, connect=held), PostgresEventBus(dsn)
    events = [FolderChanged(EVENT.mailbox_id, 1, modseq) for modseq in range(10, 16)]
    async with started(sender, receiver):
        subscription = receiver.subscribe(EVENT.mailbox_id)
        first = asyncio.create_task(sender.publish(events[:1]))
        await asyncio.wait_for(held.under_way.wait(), 5)
        later = [asyncio.create_task(sender.publish(events[at : at + 2])) for at in (1, 3)]
        later.append(asyncio.create_task(sender.publish(events[5:])))
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in later), "each waits until its events are sent"
        held.let_go.set()
        await asyncio.gather(first, *later)

        assert len(held.sent) == 2
        assert [await next_of(subscription) for _ in events] == events


async def test_a_publisher_that_goes_away_while_its_statement_is_under_way_does_not_take_the_others_events(
    dsn: str,
) -> None:
    held = HeldPublishes(dsn, held=2)
    sender, receiver = PostgresEventBus(dsn, connect=held), PostgresEventBus(dsn)
    events = [FolderChanged(EVENT.mailbox_id, 1, modseq) for modseq in range(10, 13)]
    async with started(sender, receiver):
        subscription = receiver.subscribe(EVENT.mailbox_id)
        await sender.publish(events[:1])  # the first statement
        gone, staying = (asyncio.create_task(sender.publish([event])) for event in events[1:])
        await asyncio.wait_for(held.under_way.wait(), 5)  # both in the second
        gone.cancel()
        await asyncio.sleep(0.01)
        held.let_go.set()
        await staying

        assert [await next_of(subscription) for _ in events] == events


async def test_closing_the_bus_lets_a_publish_under_way_go_out_first(dsn: str) -> None:
    held = HeldPublishes(dsn)
    sender, receiver = PostgresEventBus(dsn, connect=held), PostgresEventBus(dsn)
    async with started(receiver):
        await sender.start()
        subscription = receiver.subscribe(EVENT.mailbox_id)
        publishing = asyncio.create_task(sender.publish([EVENT]))
        await asyncio.wait_for(held.under_way.wait(), 5)
        closing = asyncio.create_task(sender.close())
        await asyncio.sleep(0.05)
        assert not closing.done(), "it waits for the publish under way"
        held.let_go.set()
        await asyncio.gather(closing, publishing)

        assert await next_of(subscription) == EVENT
