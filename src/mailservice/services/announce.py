"""The one publisher of events about committed changes: mailbox events go to the event bus, and a queued
notification wakes this node's outbox worker. Units of work, the group-commit store and the IMAP/POP3 store
call it after their commit; no use case publishes by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mailservice.domain.events import DomainEvent, NotificationQueued
from mailservice.domain.messages import MailboxEvent
from mailservice.ports import EventBus

log = logging.getLogger(__name__)


class AfterCommitPublisher:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._wake_outbox: Callable[[], None] = lambda: None

    def wake_outbox_with(self, wake: Callable[[], None]) -> None:
        """The outbox worker is built after the stores that publish, so it is attached here."""
        self._wake_outbox = wake

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """The change these events tell of is durable already, so a failure is only logged."""
        mailbox_events: list[MailboxEvent] = []
        notification_queued = False
        for event in events:
            if isinstance(event, NotificationQueued):
                notification_queued = True
            else:
                mailbox_events.append(event)
        if notification_queued:
            self._wake_outbox()
        if mailbox_events:
            await self._send(mailbox_events)

    async def _send(self, events: list[MailboxEvent]) -> None:
        try:
            await self._bus.publish(events)
        except Exception:
            first = events[0]
            log.exception(
                "events.publish_failed mailbox=%s type=%s count=%d", first.mailbox_id, first.type, len(events)
            )
