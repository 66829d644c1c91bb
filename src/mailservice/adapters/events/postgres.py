"""Events across nodes through PostgreSQL LISTEN/NOTIFY; every node, this one included, hears each event.

A notification is not kept anywhere: a node hears nothing while its listening connection is away, and
nobody hears a publish that failed. So when the listener is back, every subscriber of the node gets a
`Resync` and looks in the store again; a publish that fails even on a fresh connection resyncs this
node's subscribers at once and every node's as soon as a resync notice can be sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg

from mailservice.adapters.events.local import LocalFanout
from mailservice.adapters.events.subscription import QueueSubscription
from mailservice.domain.messages import (
    AccessRevoked,
    EventLogged,
    FolderChanged,
    MailboxEvent,
    MessageReceived,
    Resync,
)
from mailservice.ports import EventWatcher

log = logging.getLogger(__name__)

CHANNEL = "mailservice_events"
# One statement, so one transaction: PostgreSQL delivers its notifications in order, and identical ones once.
_NOTIFY_EACH = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload"
RESYNC_NOTICE = json.dumps({"type": Resync.type})
CONNECT_TIMEOUT_SECONDS = 5.0
EXECUTE_TIMEOUT_SECONDS = 5.0
# asyncpg sees a connection the server closed at once; one that silently stopped answering (a dropped
# network path) only when asked something, so an idle listener is asked this often.
LIVENESS_SECONDS = 10.0
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0

Connect = Callable[[], Awaitable[Any]]


class PostgresEventBus:
    def __init__(
        self, dsn: str, connect: Connect | None = None, on_reconnect: Callable[[], None] = lambda: None
    ) -> None:
        self._connect: Connect = connect or partial(asyncpg.connect, dsn, timeout=CONNECT_TIMEOUT_SECONDS)
        self._on_reconnect = on_reconnect
        self._fanout = LocalFanout()
        self._listener: Any = None
        self._lost = asyncio.Event()
        self._publisher: Any = None
        self._lock = asyncio.Lock()
        self._next_batch: _Batch | None = None
        """The payloads of the publishes that came while one was under way, to send next."""
        self._sends: set[asyncio.Task[None]] = set()
        self._closed = False
        self._keeper: asyncio.Task[None] | None = None
        self._resync_notice: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._listen()
        self._keeper = asyncio.create_task(self._keep_listening(), name="event-bus-listener")

    async def close(self) -> None:
        """Publishes under way are given a moment to go out; then nothing more is sent."""
        if self._sends:
            _, late = await asyncio.wait(set(self._sends), timeout=EXECUTE_TIMEOUT_SECONDS)
            for send in late:
                send.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._closed = True
        for task in (self._keeper, self._resync_notice):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for connection in (self._listener, self._publisher):
            if connection is not None and not connection.is_closed():
                await connection.close(timeout=EXECUTE_TIMEOUT_SECONDS)

    async def publish(self, events: Sequence[MailboxEvent]) -> None:
        """One round trip for every event of a commit (a delivery group can hold hundreds), shared with
        every publish that comes while one is under way: they go together, in the order they came, as
        soon as it is answered. A failed attempt is tried once more on a fresh connection, and then
        given up, with every node resynced (raised to the publish that sent it)."""
        batch = self._next_batch
        if batch is None:
            batch = self._next_batch = _Batch()
            batch.sending = asyncio.create_task(self._send(batch), name="event-bus-publish")
            self._sends.add(batch.sending)
            batch.sending.add_done_callback(self._sends.discard)
        batch.payloads += [_encode(event) for event in events]
        assert batch.sending is not None
        # Shielded: a publisher that goes away does not take the others' events with it.
        await asyncio.shield(batch.sending)

    async def _send(self, batch: _Batch) -> None:
        try:
            async with self._lock:
                if self._next_batch is batch:  # from now on publishes go to the next batch
                    self._next_batch = None
                await self._notify_with_retry(batch.payloads)
        except Exception:
            self._fanout.resync()
            self._announce_resync()
            raise
        except asyncio.CancelledError:  # the bus closes: this node's subscribers look again
            self._fanout.resync()
            raise
        finally:
            if self._next_batch is batch:  # ended before it took the lock: later publishes go on
                self._next_batch = None

    def subscribe(self, mailbox_id: str) -> QueueSubscription:
        return self._fanout.subscribe(mailbox_id)

    def subscriber_count(self) -> int:
        """Open subscriptions in this process (waiting requests, event streams)."""
        return self._fanout.subscriber_count()

    def watch(self, watcher: EventWatcher) -> None:
        self._fanout.watch(watcher)

    def listening(self) -> bool:
        """Whether this node hears events now (false while its listener reconnects)."""
        return self._listener is not None and not self._lost.is_set() and not self._listener.is_closed()

    def listener_pid(self) -> int | None:
        """The server process of the listening connection (tests end it to cause a loss)."""
        return _server_pid(self._listener)

    def publisher_pid(self) -> int | None:
        """The server process of the publishing connection, once one is open."""
        return _server_pid(self._publisher)

    async def _notify_with_retry(self, payloads: list[str]) -> None:
        try:
            await self._notify(payloads)
        except Exception:
            log.warning("events.publish_retried count=%d", len(payloads), exc_info=True)
            self._drop_publisher()
            await self._notify(payloads)

    async def _notify(self, payloads: list[str]) -> None:
        """Within bounded time, so a hung connection cannot hold up whoever publishes."""
        if self._closed:
            raise ConnectionError("the event bus is closed")
        if self._publisher is None or self._publisher.is_closed():
            self._publisher = await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT_SECONDS)
        await self._publisher.execute(_NOTIFY_EACH, CHANNEL, payloads, timeout=EXECUTE_TIMEOUT_SECONDS)

    def _drop_publisher(self) -> None:
        if self._publisher is not None:
            self._publisher.terminate()
            self._publisher = None

    def _announce_resync(self) -> None:
        """Other nodes missed the events too: tell them, as soon as PostgreSQL takes a notification."""
        if self._closed:
            return
        if self._resync_notice is None or self._resync_notice.done():
            self._resync_notice = asyncio.create_task(self._send_resync_notice(), name="event-bus-resync")

    async def _send_resync_notice(self) -> None:
        async for _ in _backoff():
            try:
                async with self._lock:
                    await self._notify([RESYNC_NOTICE])
                return
            except Exception:
                self._drop_publisher()
                log.warning("events.resync_notice_failed", exc_info=True)

    async def _listen(self) -> None:
        connection = await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT_SECONDS)
        try:
            await asyncio.wait_for(connection.add_listener(CHANNEL, self._on_notify), EXECUTE_TIMEOUT_SECONDS)
        except BaseException:
            connection.terminate()
            raise
        connection.add_termination_listener(self._on_terminated)
        self._listener = connection
        self._lost.clear()

    def _on_terminated(self, connection: Any) -> None:
        if connection is self._listener:
            self._lost.set()

    async def _keep_listening(self) -> None:
        while True:
            await self._until_lost()
            log.warning("events.listener_lost")
            await self._listen_again()
            # Listening again before looking: a change after this is heard, one before it is in the store.
            self._fanout.resync()
            log.info("events.reconnected subscribers=%d", self._fanout.subscriber_count())

    async def _until_lost(self) -> None:
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), LIVENESS_SECONDS)
                return
            if not await _answers(self._listener):
                self._lost.set()

    async def _listen_again(self) -> None:
        self._listener.terminate()
        async for _ in _backoff():
            try:
                await self._listen()
                self._on_reconnect()
                return
            except Exception:
                log.warning("events.reconnect_failed", exc_info=True)

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = _decode(payload)
        except (TypeError, ValueError, KeyError):
            log.warning("events.bad_payload payload=%r", payload[:200])
            return
        if event is None:
            self._fanout.resync()
        else:
            self._fanout.dispatch(event)


@dataclass
class _Batch:
    payloads: list[str] = field(default_factory=list)
    sending: asyncio.Task[None] | None = None


async def _backoff() -> AsyncIterator[None]:
    """Yield at once, then after pauses that double up to a cap, forever."""
    delay = BACKOFF_FIRST_SECONDS
    while True:
        yield
        await asyncio.sleep(delay)
        delay = min(delay * 2, BACKOFF_MAX_SECONDS)


def _server_pid(connection: Any) -> int | None:
    return None if connection is None else int(connection.get_server_pid())


async def _answers(connection: Any) -> bool:
    try:
        await connection.fetchval("SELECT 1", timeout=EXECUTE_TIMEOUT_SECONDS)
    except Exception:
        return False
    return True


_EVENT_TYPES: dict[str, type[MailboxEvent]] = {
    "message.received": MessageReceived,
    "folder.changed": FolderChanged,
    "mailbox.access_revoked": AccessRevoked,
    "event_log.appended": EventLogged,
}


def _encode(event: MailboxEvent) -> str:
    # The events' fields are flat values: their `__dict__` is what `dataclasses.asdict` would give,
    # without its deep copy (a fifth of the CPU of a publish).
    return json.dumps(vars(event), separators=(",", ":"))


def _decode(payload: str) -> MailboxEvent | None:
    """The event a notification carries, or None for a resync notice."""
    fields = json.loads(payload)
    if fields["type"] == Resync.type:
        return None
    return _EVENT_TYPES[fields["type"]](**fields)
