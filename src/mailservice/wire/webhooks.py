"""Webhook endpoints and their deliveries, as the API takes and returns them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from mailservice.domain.agent_events import AGENT_EVENT_TYPES
from mailservice.domain.webhooks import MAX_URL_LENGTH
from mailservice.wire.common import StrictRequest, Timestamp

EventType = Literal["message.received", "mailbox.expiring", "mailbox.expired", "mailbox.renewed"]
assert set(EventType.__args__) == set(AGENT_EVENT_TYPES)  # type: ignore[attr-defined]

WebhookId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[!-~]+$")]
DeliveryId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class WebhookCreate(StrictRequest):
    url: str = Field(
        max_length=MAX_URL_LENGTH, description="http:// or https://; must reach a public address"
    )
    events: list[EventType] | None = Field(
        default=None, max_length=len(AGENT_EVENT_TYPES), description="Event types to send; default: all"
    )
    q: str | None = Field(
        default=None,
        max_length=500,
        description="Only message.received events of messages matching this search (the grammar of GET "
        "/v1/messages); other events are not filtered",
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    q: str | None
    created_at: Timestamp
    disabled_at: Timestamp | None = Field(
        default=None, description="Set when the webhook was turned off after failing for days"
    )


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="whsec_...: verifies the webhook-signature header (Standard Webhooks). Shown only once"
    )


class WebhookListOut(BaseModel):
    webhooks: list[WebhookOut]


class AttemptOut(BaseModel):
    at: Timestamp
    status_code: int | None = Field(description="The HTTP status answered; null when none was")
    latency_ms: int
    error: str | None = Field(description="Why the attempt failed; null for a 2xx answer")


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str = Field(description="The webhook-id header: the same on every attempt")
    event_id: int | None = Field(description="The event's id in the event log; null for a test")
    type: str
    status: str = Field(description="pending, succeeded, failed (retries spent) or skipped (q did not match)")
    attempts: list[AttemptOut]
    next_attempt_at: Timestamp | None = Field(description="When it is tried next, while pending")
    created_at: Timestamp


class DeliveryListOut(BaseModel):
    deliveries: list[DeliveryOut]
    next_before_id: int | None = Field(default=None, description="Cursor for the next (older) page")
