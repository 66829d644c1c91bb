"""Checkouts: a payment session opened with a provider for one mailbox."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class CheckoutStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Checkout:
    id: str
    mailbox_id: str
    provider: str
    url: str
    status: CheckoutStatus
    months: int
    created_at: datetime
    paid_at: datetime | None = None
    expires_at: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.status is CheckoutStatus.OPEN and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class NewCheckout:
    """What a payment gateway returns when it opens a checkout."""

    id: str
    url: str
    expires_at: datetime | None


@dataclass(frozen=True)
class CheckoutRequest:
    mailbox_id: str
    billing_email: str
    months: int


class PaymentEventAction(enum.StrEnum):
    """What a verified provider event asks of us."""

    CHECKOUT_CHANGED = "checkout_changed"  # ask the provider for the checkout's status, never trust the body
    CHECKOUT_PAID = "checkout_paid"  # the signed event itself says the checkout is paid
    RENEWED = "renewed"  # a subscription period was paid: the mailbox runs until `period_end`
    REVOKED = "revoked"  # the subscription ended now: the mailbox expires now
    IGNORED = "ignored"  # recorded and logged, changes nothing


@dataclass(frozen=True)
class PaymentEvent:
    """A provider webhook whose signature was verified, reduced to what it means for a mailbox."""

    provider: str
    event_id: str
    event_type: str
    action: PaymentEventAction
    checkout_id: str | None = None
    mailbox_id: str | None = None
    period_end: datetime | None = None
