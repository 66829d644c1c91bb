"""Publishing after commit without waiting for it: a writer hands over its events and goes on.

The group-commit writer must not wait on the event bus: a slow or reconnecting bus would hold up every
delivery behind it. Events are sent by one task, in the order they were handed over; what piles up while
a publish is under way goes out together in the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mailservice.domain.events import DomainEvent
from mailservice.ports import EventPublisher


class PublishQueue:
    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher
        self._queued: list[DomainEvent] = []
        self._sender: asyncio.Task[None] | None = None

    def put(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        self._queued.extend(events)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_queued(), name="publish-queue")

    async def drain(self) -> None:
        """Return once everything handed over has been published (or its failure logged)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    async def _send_queued(self) -> None:
        while self._queued:
            events, self._queued = self._queued, []
            await self._publisher.publish(events)  # logs its failures, never raises
