"""A mailbox's retention policy, as the agent reads and changes it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from mailservice.domain.retention import MAX_AGE_DAYS_LIMIT
from mailservice.wire.common import StrictRequest

MAX_AGE_HELP = "Messages older than this many days are deleted, read or not; null keeps mail forever"
DELETE_READ_HELP = (
    "When a new message does not fit in the quota, delete the oldest read (\\Seen) messages to make room "
    "instead of refusing it; unread messages are never deleted for room"
)


class RetentionOut(BaseModel):
    max_age_days: int | None = Field(description=MAX_AGE_HELP)
    delete_oldest_read_when_full: bool = Field(description=DELETE_READ_HELP)
    source: Literal["default", "mailbox"] = Field(
        description="`default`: the service's configured policy; `mailbox`: one set for this mailbox"
    )


class RetentionUpdate(StrictRequest):
    """Fields left out keep their current value."""

    max_age_days: int | None = Field(default=None, ge=1, le=MAX_AGE_DAYS_LIMIT, description=MAX_AGE_HELP)
    delete_oldest_read_when_full: StrictBool | None = Field(default=None, description=DELETE_READ_HELP)
