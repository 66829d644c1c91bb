"""Mock payments for local use: the payment link itself is the payment."""

from __future__ import annotations

import uuid

from mailservice.domain.payment import Checkout, CheckoutRequest, CheckoutStatus, NewCheckout

MOCK_PAY_PATH = "/mock/pay/"


class MockPaymentGateway:
    provider = "mock"

    def __init__(self, public_base_url: str) -> None:
        self._public_base_url = public_base_url.rstrip("/")

    async def create_checkout(self, request: CheckoutRequest) -> NewCheckout:
        session_id = f"mock_{uuid.uuid4()}"
        return NewCheckout(
            id=session_id, url=f"{self._public_base_url}{MOCK_PAY_PATH}{session_id}", expires_at=None
        )

    async def checkout_status(self, checkout: Checkout) -> CheckoutStatus:
        # There is no provider: our own record of the checkout is the whole truth.
        return checkout.status

    async def close(self) -> None:
        pass
