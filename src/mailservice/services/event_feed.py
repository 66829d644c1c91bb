"""A mailbox's event log as agents read it: a page after a cursor, or followed as it grows.

The log's ids become visible in increasing order within a mailbox (`adapters/db/event_log.py`), so the id
of the last event seen is a cursor that neither skips nor repeats one, on any node and after a restart.
Following subscribes to the event bus first and then reads the log, and reads again at each event of the
mailbox or resync: nothing is polled, and nothing committed after the subscription is missed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from mailservice.domain.agent_events import MESSAGE_RECEIVED, LoggedEvent
from mailservice.domain.errors import InvalidInput
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.search import MessageQuery
from mailservice.ports import Clock, EventBus, UnitOfWorkFactory
from mailservice.services.live_sessions import LiveSessions, next_signal

log = logging.getLogger(__name__)

MAX_EVENTS_PAGE = 500
PURGE_BATCH = 5000


@dataclass(frozen=True)
class EventPage:
    events: list[LoggedEvent]
    next_after: int
    """The cursor for the next page: the last event's id, or `after` itself when there were none."""


class EventFeed:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        events: EventBus,
        live_sessions: LiveSessions,
        clock: Clock,
        retention: timedelta,
    ) -> None:
        self._retention = retention
        self._uow = uow
        self._events = events
        self._live_sessions = live_sessions
        self._clock = clock

    async def page(self, mailbox: Mailbox, after: int, limit: int) -> EventPage:
        """The mailbox's events with an id above `after`, oldest first."""
        if not 1 <= limit <= MAX_EVENTS_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_EVENTS_PAGE}")
        if after < 0:
            raise InvalidInput("after must not be negative")
        async with self._uow(read_only=True) as uow:
            events = await uow.event_log.read_after(mailbox.id, after, limit)
        return EventPage(events, events[-1].id if events else after)

    async def follow(
        self, mailbox: Mailbox, after: int | None, query: MessageQuery | None = None
    ) -> AsyncIterator[LoggedEvent]:
        """Every event after `after` (default: from now on), as it is logged, until access is revoked.
        With `query`, `message.received` events whose message does not match it (or is gone) are left out."""
        subscription = self._events.subscribe(mailbox.id)
        lease = self._live_sessions.lease(mailbox)
        try:
            cursor = after if after is not None else await self.latest_id(mailbox.id)
            while True:
                page = await self.page(mailbox, cursor, MAX_EVENTS_PAGE)
                for event in page.events:
                    if query is None or await self._matches(mailbox.id, event, query):
                        yield event
                cursor = page.next_after
                if len(page.events) == MAX_EVENTS_PAGE:
                    continue
                if not await next_signal(subscription, lease, None):
                    return
        finally:
            subscription.close()
            lease.release()

    async def purge(self) -> int:
        """Delete events older than the retention, a batch per transaction; how many were deleted."""
        cutoff = self._clock.now() - self._retention
        total = 0
        while True:
            async with self._uow() as uow:
                deleted = await uow.event_log.delete_before(cutoff, PURGE_BATCH)
                await uow.commit()
            total += deleted
            if deleted < PURGE_BATCH:
                break
        if total:
            log.info("event_log.purged events=%d", total)
        return total

    async def latest_id(self, mailbox_id: str) -> int:
        """The id of the mailbox's newest event (0 when it has none): a cursor for "from now"."""
        async with self._uow(read_only=True) as uow:
            return await uow.event_log.latest_id(mailbox_id)

    async def _matches(self, mailbox_id: str, event: LoggedEvent, query: MessageQuery) -> bool:
        if event.type != MESSAGE_RECEIVED:
            return True
        return await message_matches(self._uow, mailbox_id, int(event.data["uid"]), query)


async def message_matches(uow: UnitOfWorkFactory, mailbox_id: str, uid: int, query: MessageQuery) -> bool:
    """Whether the INBOX message `uid` still exists and matches `query`, by the store's own search."""
    async with uow(read_only=True) as work:
        found = await work.messages.find(mailbox_id, query, limit=1, after_uid=uid - 1, before_uid=uid + 1)
    return bool(found)
