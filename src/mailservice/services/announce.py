"""The one publisher of events about committed changes: mailbox events go to the event bus, a queued
notification wakes this node's outbox worker, and queued webhook deliveries wake its webhook worker
(entries in the event log queue them only for a mailbox with endpoints: most new mail wakes none).
Units of work, the group-commit store and the IMAP/POP3 store call it after their commit; no use case
publishes by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mailservice.domain.agent_events import MESSAGE_RECEIVED, AgentEvent
from mailservice.domain.events import DomainEvent, NotificationQueued, WebhookQueued
from mailservice.domain.messages import EventLogged, MailboxEvent
from mailservice.ports import EventBus

log = logging.getLogger(__name__)


class AfterCommitPublisher:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._wake_outbox: Callable[[], None] = lambda: None
        self._wake_webhooks: Callable[[], None] = lambda: None

    def wake_outbox_with(self, wake: Callable[[], None]) -> None:
        """The outbox worker is built after the stores that publish, so it is attached here."""
        self._wake_outbox = wake

    def wake_webhooks_with(self, wake: Callable[[], None]) -> None:
        """Likewise for the webhook delivery worker."""
        self._wake_webhooks = wake

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        """The change these events tell of is durable already, so a failure is only logged."""
        mailbox_events: list[MailboxEvent] = []
        notification_queued = logged = False
        for event in events:
            if isinstance(event, NotificationQueued):
                notification_queued = True
            elif isinstance(event, WebhookQueued):
                logged = True
            elif isinstance(event, AgentEvent):
                # New mail has its own bus event; the others tell this mailbox's event streams to read.
                logged_event = EventLogged(event.mailbox_id)
                if event.type != MESSAGE_RECEIVED and logged_event not in mailbox_events:
                    mailbox_events.append(logged_event)
            else:
                mailbox_events.append(event)
        if notification_queued:
            self._wake_outbox()
        if logged:
            self._wake_webhooks()
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
