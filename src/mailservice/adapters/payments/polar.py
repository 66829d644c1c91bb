"""Polar checkouts through the official SDK: open one for a mailbox, and ask for its live status."""

from __future__ import annotations

import logging
from datetime import datetime

from polar import PolarClientError, PolarError
from polar.v2026_10 import PolarAsync
from polar.v2026_10.errors import ResourceNotFound

from mailservice.domain.errors import PaymentProviderUnavailable
from mailservice.domain.payment import Checkout, CheckoutRequest, CheckoutStatus, NewCheckout

log = logging.getLogger(__name__)

# `confirmed` means the buyer submitted the payment and Polar is still processing it: not paid yet, and not
# a reason to open another checkout either. `failed` can only be paid through a new checkout.
_STATUS = {
    "open": CheckoutStatus.OPEN,
    "confirmed": CheckoutStatus.OPEN,
    "succeeded": CheckoutStatus.PAID,
    "expired": CheckoutStatus.EXPIRED,
    "failed": CheckoutStatus.EXPIRED,
}


class PolarPaymentGateway:
    provider = "polar"

    def __init__(
        self,
        token: str,
        product_id: str,
        server_url: str,
        success_url: str,
        return_url: str,
        timeout_seconds: float,
    ) -> None:
        self._polar = PolarAsync(token, base_url=server_url.rstrip("/"), timeout=timeout_seconds)
        self._product_id = product_id
        self._success_url = success_url
        self._return_url = return_url

    async def create_checkout(self, request: CheckoutRequest) -> NewCheckout:
        try:
            checkout = await self._polar.checkouts.create(
                products=[self._product_id],
                customer_email=request.billing_email,
                metadata={"mailbox_id": request.mailbox_id},
                success_url=self._success_url,
                return_url=self._return_url,
            )
        except PolarError as error:
            raise _unavailable("create a checkout", error) from error
        return NewCheckout(id=checkout.id, url=checkout.url, expires_at=_parse_time(checkout.expires_at))

    async def checkout_status(self, checkout: Checkout) -> CheckoutStatus:
        try:
            live = await self._polar.checkouts.get(checkout.id)
        except ResourceNotFound:
            return CheckoutStatus.EXPIRED
        except PolarError as error:
            raise _unavailable("look up a checkout", error) from error
        return _STATUS.get(live.status, CheckoutStatus.OPEN)

    async def close(self) -> None:
        await self._polar.__aexit__()


def _unavailable(action: str, error: PolarError) -> PaymentProviderUnavailable:
    status = getattr(error, "status_code", None)
    log.warning("polar.failed action=%r status=%s error=%s", action, status, type(error).__name__)
    if isinstance(error, PolarClientError):
        return PaymentProviderUnavailable(f"the payment provider refused to {action} (HTTP {status})")
    return PaymentProviderUnavailable(f"the payment provider could not {action}; try again later")


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
