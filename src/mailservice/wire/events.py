"""A mailbox's event log, as `GET /v1/events` returns it (JSON pages, or one event per SSE message)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from mailservice.wire.common import Timestamp
from mailservice.wire.webhooks import EventType

MAX_EVENT_ID = 2**63 - 1
EventCursor = Annotated[int, Field(ge=0, le=MAX_EVENT_ID)]


class EventOut(BaseModel):
    id: int = Field(description="Increases with every event of the mailbox; the cursor for `after`")
    type: EventType
    occurred_at: Timestamp
    data: dict[str, Any] = Field(
        description="message.received: uid, folder, from, to, subject, received_at, size, preview, codes, "
        "links, tags, auth, verified_domain; mailbox.*: expires_at"
    )


class EventPageOut(BaseModel):
    events: list[EventOut]
    next_after: int = Field(description="Pass as `after` for the next page: the last event's id, or `after`")
