"""Webhook endpoints and their deliveries: which events go where, when a failed one is tried again, and
which addresses an endpoint may never reach."""

from __future__ import annotations

import enum
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from mailservice.domain.agent_events import AGENT_EVENT_TYPES, MESSAGE_RECEIVED, LoggedEvent
from mailservice.domain.errors import InvalidInput, UnsafeWebhookUrl

WEBHOOK_TEST = "webhook.test"
MAX_URL_LENGTH = 2000

# After the first attempt: try again after these waits, each stretched or shrunk by up to a tenth.
RETRY_WAITS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
JITTER = 0.1


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every attempt of the schedule failed
    SKIPPED = "skipped"  # the message did not match the endpoint's `q`, or is gone


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    mailbox_id: str
    url: str
    events: tuple[str, ...]
    q: str | None
    created_at: datetime
    disabled_at: datetime | None = None
    failing_since: datetime | None = None

    def wants(self, event_type: str) -> bool:
        return self.disabled_at is None and (event_type in self.events or event_type == WEBHOOK_TEST)


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True)
class SendResult:
    """One attempt's outcome: a 2xx answer is a success; anything else, with `error` saying what."""

    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class WebhookDelivery:
    """`message_id` is the `webhook-id` header: the same on every attempt, so receivers can dedupe."""

    id: int
    endpoint_id: str
    event_id: int | None
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    history: tuple[Attempt, ...] = ()

    @property
    def message_id(self) -> str:
        return f"msg_{self.id}"


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased for sending, with what it sends: its event (None for a test) and where;
    `event_data_json` is the event's `data` as the log keeps it (JSON text), sent as it is."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: LoggedEvent | None
    event_data_json: str | None = None


@dataclass(frozen=True)
class ClaimRequest:
    """Lease what is due at `now` until `lease_until`: at most `limit` in all, and per endpoint at most
    its `room` (`per_endpoint` for an endpoint not named there); endpoints without room are skipped."""

    now: datetime
    lease_until: datetime
    limit: int
    room: dict[str, int]
    per_endpoint: int

    def full_endpoints(self) -> list[str]:
        return sorted(endpoint_id for endpoint_id, free in self.room.items() if free <= 0)

    def within_room(self, endpoint_ids: list[str]) -> list[int]:
        """The positions in `endpoint_ids` (due deliveries' endpoints, oldest first) that fit."""
        taken: dict[str, int] = {}
        kept = []
        for position, endpoint_id in enumerate(endpoint_ids):
            if taken.get(endpoint_id, 0) < self.room.get(endpoint_id, self.per_endpoint):
                taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
                kept.append(position)
        return kept


@dataclass(frozen=True)
class DeliveryOutcome:
    """One attempt as it is recorded: the delivery's new status and when it is due again (for a pending
    one), and whether its endpoint answered well."""

    delivery_id: int
    endpoint_id: str
    attempt: Attempt
    status: DeliveryStatus
    next_attempt_at: datetime

    @property
    def ok(self) -> bool:
        return self.attempt.error is None


def chosen_events(events: list[str] | None) -> tuple[str, ...]:
    """The event types an endpoint subscribes to: all of them when none are named."""
    if not events:
        return AGENT_EVENT_TYPES
    unknown = sorted(set(events) - set(AGENT_EVENT_TYPES))
    if unknown:
        raise InvalidInput(f"unknown event type {unknown[0]!r}; known: {', '.join(AGENT_EVENT_TYPES)}")
    return tuple(t for t in AGENT_EVENT_TYPES if t in events)


def filters_messages(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """`q` applies to message events only."""
    return endpoint.q is not None and event_type == MESSAGE_RECEIVED


def retry_at(
    attempts: int, now: datetime, uniform: Callable[[float, float], float] = random.uniform
) -> datetime | None:
    """When to try again after `attempts` failed attempts; None once the schedule is spent."""
    if attempts > len(RETRY_WAITS):
        return None
    wait = RETRY_WAITS[attempts - 1]
    return now + wait * uniform(1 - JITTER, 1 + JITTER)


def refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> str | None:
    """Why a webhook may not connect to `address`, or None when it may.

    Public addresses only; `allow_private` (development and tests) admits loopback and private ranges,
    never link-local (cloud metadata lives at 169.254.169.254), multicast, unspecified or reserved ones.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:  # before `reserved`, which ::1 is too
        return None if allow_private else "a loopback address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_global or (allow_private and address.is_private):
        return None
    return "a private address"


def checked_url(url: str, allow_private: bool) -> str:
    """An endpoint URL as registered: http(s) with a host; an address literal must be one we may reach.

    Names are checked when they are resolved, at every connection."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrl(f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeWebhookUrl(f"not a valid URL: {error}") from error
    if parts.scheme not in ("http", "https"):
        raise UnsafeWebhookUrl("a webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeWebhookUrl("a webhook URL must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl("a webhook URL cannot carry a user name or password")
    if port == 0:
        raise UnsafeWebhookUrl("a webhook URL cannot use port 0")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    reason = refusal(literal, allow_private)
    if reason is not None:
        raise UnsafeWebhookUrl(f"webhooks may not be sent to {reason}")
    return url
