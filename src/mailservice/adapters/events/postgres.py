"""Events across nodes through PostgreSQL LISTEN/NOTIFY; every node, this one included, hears each event."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import asyncpg

from mailservice.adapters.events.local import LocalFanout
from mailservice.adapters.events.subscription import QueueSubscription
from mailservice.domain.messages import AccessRevoked, FolderChanged, MailboxEvent, MessageReceived

log = logging.getLogger(__name__)

CHANNEL = "mailservice_events"
# One statement, so one transaction: PostgreSQL delivers its notifications in order, and identical ones once.
_NOTIFY_EACH = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload"
RECONNECT_SECONDS = 1.0


class PostgresEventBus:
    def __init__(self, dsn: str, on_reconnect: Callable[[], None] = lambda: None) -> None:
        self._dsn = dsn
        self._on_reconnect = on_reconnect
        self._fanout = LocalFanout()
        self._listener: Any = None
        self._publisher: Any = None
        self._lock = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        self._watch = asyncio.create_task(self._keep_listening(), name="event-bus-listener")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for connection in (self._listener, self._publisher):
            if connection is not None and not connection.is_closed():
                await connection.close()

    async def publish(self, events: Sequence[MailboxEvent]) -> None:
        """One round trip for every event of a commit (a delivery group can hold hundreds)."""
        payloads = [json.dumps(asdict(event), separators=(",", ":")) for event in events]
        async with self._lock:
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await asyncpg.connect(self._dsn)
            await self._publisher.execute(_NOTIFY_EACH, CHANNEL, payloads)

    def subscribe(self, mailbox_id: str) -> QueueSubscription:
        return self._fanout.subscribe(mailbox_id)

    def subscriber_count(self) -> int:
        """Open subscriptions in this process (waiting requests, event streams)."""
        return self._fanout.subscriber_count()

    async def _connect(self) -> None:
        self._listener = await asyncpg.connect(self._dsn)
        await self._listener.add_listener(CHANNEL, self._on_notify)

    async def _keep_listening(self) -> None:
        while True:
            await asyncio.sleep(RECONNECT_SECONDS)
            if self._listener is not None and not self._listener.is_closed():
                continue
            try:
                await self._connect()
                self._on_reconnect()
                log.info("events.reconnected")
            except Exception:
                log.warning("events.reconnect_failed", exc_info=True)

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = _decode(payload)
        except (TypeError, ValueError, KeyError):
            log.warning("events.bad_payload payload=%r", payload[:200])
            return
        self._fanout.dispatch(event)


_EVENT_TYPES: dict[str, type[MessageReceived] | type[FolderChanged] | type[AccessRevoked]] = {
    "message.received": MessageReceived,
    "folder.changed": FolderChanged,
    "mailbox.access_revoked": AccessRevoked,
}


def _decode(payload: str) -> MailboxEvent:
    fields = json.loads(payload)
    return _EVENT_TYPES[fields["type"]](**fields)
