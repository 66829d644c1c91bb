"""Publishing an event about a change that is already committed."""

from __future__ import annotations

import logging

from mailservice.domain.messages import MailboxEvent
from mailservice.ports import EventBus

log = logging.getLogger(__name__)


async def announce(events: EventBus, event: MailboxEvent) -> None:
    """Publish `event`; the change it tells of is durable already, so a failure is only logged."""
    try:
        await events.publish(event)
    except Exception:
        log.exception("events.publish_failed mailbox=%s type=%s", event.mailbox_id, event.type)
