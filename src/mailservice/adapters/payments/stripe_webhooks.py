"""Stripe webhooks: `Stripe-Signature` checked by the stripe library (300 s tolerance), then reduced to
what the event means for us. Only a session Stripe reports as paid activates a mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from mailservice.domain.errors import InvalidWebhook
from mailservice.domain.payment import PaymentEvent, PaymentEventAction

PROVIDER = "stripe"
TOLERANCE_SECONDS = 300
_PAID_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})


class StripeWebhookVerifier:
    provider = PROVIDER

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def parse(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        signature = {name.lower(): value for name, value in headers.items()}.get("stripe-signature")
        try:
            event = stripe.Webhook.construct_event(body, signature, self._secret, TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhook(f"webhook signature does not verify: {error}") from error
        except ValueError as error:
            raise InvalidWebhook("webhook body is not an event") from error
        payload = event.to_dict()
        if not isinstance(payload.get("id"), str):
            raise InvalidWebhook("webhook body is not an event")
        return _event(payload["id"], str(payload.get("type", "")), _object_of(payload))


def _event(event_id: str, event_type: str, session: dict[str, Any]) -> PaymentEvent:
    session_id = session.get("id")
    if (
        event_type in _PAID_EVENTS
        and session.get("payment_status") == "paid"
        and isinstance(session_id, str)
        and session_id
    ):
        return PaymentEvent(
            PROVIDER, event_id, event_type, PaymentEventAction.CHECKOUT_PAID, checkout_id=session_id
        )
    return PaymentEvent(PROVIDER, event_id, event_type, PaymentEventAction.IGNORED)


def _object_of(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}
