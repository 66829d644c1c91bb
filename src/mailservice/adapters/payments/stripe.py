"""Stripe Checkout Sessions through the official library: one month of a mailbox in payment mode."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import stripe

from mailservice.domain.errors import PaymentProviderUnavailable
from mailservice.domain.payment import Checkout, CheckoutRequest, CheckoutStatus, NewCheckout

log = logging.getLogger(__name__)

PRODUCT_NAME = "Mailbox, one month"


class StripePaymentGateway:
    provider = "stripe"

    def __init__(
        self,
        secret_key: str,
        api_base: str,
        price_cents: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        timeout_seconds: float,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout_seconds)
        self._stripe = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=0,
        )
        self._price_cents = price_cents
        self._currency = currency.lower()
        self._success_url = success_url
        self._cancel_url = cancel_url

    async def create_checkout(self, request: CheckoutRequest) -> NewCheckout:
        try:
            session = await self._stripe.v1.checkout.sessions.create_async(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": self._currency,
                                "unit_amount": self._price_cents,
                                "product_data": {"name": PRODUCT_NAME},
                            },
                        }
                    ],
                    "customer_email": request.billing_email,
                    "client_reference_id": request.mailbox_id,
                    "metadata": {"mailbox_id": request.mailbox_id},
                    "success_url": self._success_url,
                    "cancel_url": self._cancel_url,
                }
            )
        except stripe.StripeError as error:
            raise _unavailable("create a checkout", error) from error
        if not session.url:
            raise PaymentProviderUnavailable("the payment provider opened a checkout without a payment link")
        expires_at = datetime.fromtimestamp(session.expires_at, UTC) if session.expires_at else None
        return NewCheckout(id=session.id, url=session.url, expires_at=expires_at)

    async def checkout_status(self, checkout: Checkout) -> CheckoutStatus:
        try:
            session = await self._stripe.v1.checkout.sessions.retrieve_async(checkout.id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return CheckoutStatus.EXPIRED
            raise _unavailable("look up a checkout", error) from error
        except stripe.StripeError as error:
            raise _unavailable("look up a checkout", error) from error
        if session.status == "complete" and session.payment_status == "paid":
            return CheckoutStatus.PAID
        if session.status == "expired":
            return CheckoutStatus.EXPIRED
        return CheckoutStatus.OPEN

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


def _unavailable(action: str, error: stripe.StripeError) -> PaymentProviderUnavailable:
    log.warning("stripe.failed action=%r status=%s error=%s", action, error.http_status, type(error).__name__)
    return PaymentProviderUnavailable(f"the payment provider could not {action}; try again later")
