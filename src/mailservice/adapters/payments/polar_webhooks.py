"""Polar webhooks: Standard Webhooks signatures checked, then the event reduced to what it means for us.

Only the few fields we act on are read from the body (checkout id, order billing reason, subscription
status, period end and metadata), so a field Polar adds or renames elsewhere cannot stop a payment."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from mailservice.domain.errors import InvalidWebhook
from mailservice.domain.payment import PaymentEvent, PaymentEventAction

log = logging.getLogger(__name__)

PROVIDER = "polar"
_CHECKOUT_EVENTS = frozenset({"checkout.created", "checkout.updated", "checkout.expired"})
_ORDER_EVENTS = frozenset({"order.created", "order.paid", "order.updated"})
_FIRST_ORDER_REASONS = frozenset({"purchase", "subscription_create"})
_RENEWAL_EVENTS = frozenset(
    {"subscription.created", "subscription.updated", "subscription.active", "subscription.cycled"}
)
_RUNNING = frozenset({"active", "trialing"})

_Make = Callable[..., PaymentEvent]


class PolarWebhookVerifier:
    provider = PROVIDER

    def __init__(self, secret: str) -> None:
        # Polar signs with the secret's own UTF-8 bytes as the HMAC key; Standard Webhooks expects that key
        # base64-encoded.
        self._webhook = Webhook(base64.b64encode(secret.encode()).decode())

    def parse(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """Verify the signature and the timestamp (5 minutes either way), then read the event."""
        try:
            payload = self._webhook.verify(body, dict(headers))
        except (WebhookVerificationError, ValueError) as error:
            raise InvalidWebhook(f"webhook signature does not verify: {error}") from error
        event_id = {name.lower(): value for name, value in headers.items()}["webhook-id"]
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise InvalidWebhook("webhook body is not an event")
        data = payload.get("data")
        return _event(event_id, payload["type"], data if isinstance(data, dict) else {})


def _event(event_id: str, event_type: str, data: dict[str, Any]) -> PaymentEvent:
    def event(action: PaymentEventAction, **values: Any) -> PaymentEvent:
        return PaymentEvent(PROVIDER, event_id, event_type, action, **values)

    if event_type in _CHECKOUT_EVENTS and _text(data.get("id")):
        return event(PaymentEventAction.CHECKOUT_CHANGED, checkout_id=data["id"])
    if event_type in _ORDER_EVENTS and data.get("paid") is True:
        return _paid_order(data, event)
    if event_type in _RENEWAL_EVENTS and data.get("status") in _RUNNING:
        return _renewal(data, _mailbox_of(data), event)
    if event_type == "subscription.revoked" and _mailbox_of(data):
        return event(PaymentEventAction.REVOKED, mailbox_id=_mailbox_of(data))
    return event(PaymentEventAction.IGNORED)


def _paid_order(data: dict[str, Any], event: _Make) -> PaymentEvent:
    """The first order of a checkout pays that checkout; a later subscription order renews the mailbox."""
    checkout_id = _text(data.get("checkout_id"))
    if data.get("billing_reason") in _FIRST_ORDER_REASONS and checkout_id:
        return event(PaymentEventAction.CHECKOUT_PAID, checkout_id=checkout_id)
    subscription = data.get("subscription")
    if not isinstance(subscription, dict):
        return event(PaymentEventAction.IGNORED)
    return _renewal(subscription, _mailbox_of(data) or _mailbox_of(subscription), event)


def _renewal(subscription: dict[str, Any], mailbox_id: str | None, event: _Make) -> PaymentEvent:
    period_end = _time(subscription.get("current_period_end"))
    if mailbox_id is None or period_end is None:
        log.warning("polar.renewal_unmatched subscription=%s", subscription.get("id"))
        return event(PaymentEventAction.IGNORED)
    # The subscription's first period is the checkout's payment: naming the checkout lets it be applied
    # once, whichever of the checkout, order and subscription events arrives first.
    checkout_id = _text(subscription.get("checkout_id"))
    return event(
        PaymentEventAction.RENEWED, mailbox_id=mailbox_id, period_end=period_end, checkout_id=checkout_id
    )


def _mailbox_of(data: dict[str, Any]) -> str | None:
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and _text(metadata.get("mailbox_id")):
        return str(metadata["mailbox_id"])
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
