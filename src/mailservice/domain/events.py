"""Domain events: what a committed change tells the rest of the system."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailservice.domain.agent_events import AgentEvent
from mailservice.domain.messages import MailboxEvent


@dataclass(frozen=True)
class NotificationQueued:
    """A notification waits in the outbox: this node's worker sends it now rather than at its next poll."""

    type: str = field(default="notification.queued")


@dataclass(frozen=True)
class WebhookQueued:
    """A webhook delivery was queued or brought forward by hand: this node's worker sends it now."""

    type: str = field(default="webhook.queued")


DomainEvent = MailboxEvent | NotificationQueued | AgentEvent | WebhookQueued
