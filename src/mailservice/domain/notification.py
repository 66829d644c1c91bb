"""Outgoing notifications to people (payment links and the like), queued in a durable outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Notification:
    kind: str
    recipient: str
    subject: str
    text: str
    html: str
    dedupe_key: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class QueuedNotification:
    id: int
    notification: Notification
    attempts: int
    created_at: datetime
