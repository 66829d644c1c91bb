"""Events an agent sees: kept in the event log and sent to the mailbox's webhooks.

An `AgentEvent` is recorded by the change that causes it and written in that change's transaction; once
written it has an id, and the log hands it back as a `LoggedEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailservice.domain.timestamps import rfc3339

MESSAGE_RECEIVED = "message.received"
MAILBOX_EXPIRING = "mailbox.expiring"
MAILBOX_EXPIRED = "mailbox.expired"
MAILBOX_RENEWED = "mailbox.renewed"
AGENT_EVENT_TYPES = (MESSAGE_RECEIVED, MAILBOX_EXPIRING, MAILBOX_EXPIRED, MAILBOX_RENEWED)


@dataclass(frozen=True)
class AgentEvent:
    """`data` is the payload as agents see it (JSON values only)."""

    mailbox_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class LoggedEvent:
    """An event as the log keeps it: `id` orders the events of one mailbox as they were committed."""

    id: int
    mailbox_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


def mailbox_event(mailbox_id: str, type: str, occurred_at: datetime, expires_at: datetime) -> AgentEvent:
    """A `mailbox.*` event: every one tells the expiry it is about."""
    return AgentEvent(mailbox_id, type, occurred_at, {"expires_at": rfc3339(expires_at)})
