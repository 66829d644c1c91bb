"""A local stand-in for the Polar API's checkout endpoints (`POST /v1/checkouts/`, `GET /v1/checkouts/{id}`),
answering with Polar's documented checkout object, and a signer for Polar's Standard Webhooks deliveries."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from tests.support.fake_http import FakeApi, Recorded, Reply, fake_api

CHECKOUT_LIFETIME = timedelta(hours=1)


class FakePolar:
    """Checkouts kept in memory; a test moves one to another status as Polar would."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.checkouts: dict[str, dict[str, Any]] = {}
        self.fail_with: int | None = None
        self.api: FakeApi | None = None

    @property
    def url(self) -> str:
        assert self.api is not None
        return self.api.url

    @property
    def requests(self) -> list[Recorded]:
        assert self.api is not None
        return self.api.requests

    def set_status(self, checkout_id: str, status: str) -> None:
        self.checkouts[checkout_id]["status"] = status

    def answer(self, request: Recorded) -> Reply:
        if self.fail_with is not None:
            return Reply(self.fail_with, {"detail": "Internal Server Error"})
        if request.method == "POST" and request.path == "/v1/checkouts/":
            checkout = self._create(request.json())
            return Reply(201, checkout)
        if request.method == "GET" and request.path.startswith("/v1/checkouts/"):
            found = self.checkouts.get(request.path.removeprefix("/v1/checkouts/"))
            if found is None:
                return Reply(404, {"error": "ResourceNotFound", "detail": "Not found"})
            return Reply(200, found)
        return Reply(404, {"error": "ResourceNotFound", "detail": "Not found"})

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        checkout_id = str(uuid.uuid4())
        created = self.now()
        checkout = checkout_object(
            checkout_id,
            status="open",
            created_at=created,
            expires_at=created + CHECKOUT_LIFETIME,
            product_id=body["products"][0],
            customer_email=body.get("customer_email"),
            metadata=body.get("metadata", {}),
            success_url=body.get("success_url", ""),
            return_url=body.get("return_url"),
        )
        self.checkouts[checkout_id] = checkout
        return checkout


@contextmanager
def fake_polar(now: Callable[[], datetime]) -> Iterator[FakePolar]:
    polar = FakePolar(now)
    with fake_api(polar.answer) as api:
        polar.api = api
        yield polar


def checkout_object(
    checkout_id: str,
    *,
    status: str,
    created_at: datetime,
    expires_at: datetime,
    product_id: str,
    customer_email: str | None,
    metadata: dict[str, Any],
    success_url: str,
    return_url: str | None,
) -> dict[str, Any]:
    """Polar's `Checkout` object, every required field present."""
    client_secret = f"polar_c_{uuid.uuid4().hex}"
    return {
        "id": checkout_id,
        "created_at": _iso(created_at),
        "modified_at": None,
        "custom_field_data": {},
        "payment_processor": "stripe",
        "status": status,
        "client_secret": client_secret,
        "url": f"https://sandbox.polar.test/checkout/{client_secret}",
        "expires_at": _iso(expires_at),
        "success_url": success_url.replace("{CHECKOUT_ID}", checkout_id),
        "return_url": return_url,
        "embed_origin": None,
        "amount": 299,
        "units": None,
        "min_units": None,
        "max_units": None,
        "discount_amount": 0,
        "net_amount": 299,
        "tax_amount": None,
        "tax_behavior": None,
        "total_amount": 299,
        "currency": "usd",
        "allow_trial": None,
        "active_trial_interval": None,
        "active_trial_interval_count": None,
        "trial_end": None,
        "organization_id": "4c1e2f0a-0000-4000-8000-000000000001",
        "product_id": product_id,
        "product_price_id": None,
        "discount_id": None,
        "allow_discount_codes": True,
        "require_billing_address": False,
        "is_discount_applicable": True,
        "is_free_product_price": False,
        "is_payment_required": True,
        "is_payment_setup_required": True,
        "is_payment_form_required": True,
        "customer_id": None,
        "is_business_customer": False,
        "customer_name": None,
        "customer_email": customer_email,
        "customer_ip_address": None,
        "customer_billing_name": None,
        "customer_billing_address": None,
        "customer_tax_id": None,
        "payment_method_type": None,
        "payment_processor_metadata": {},
        "billing_address_fields": {
            "country": "required",
            "state": "disabled",
            "city": "disabled",
            "postal_code": "disabled",
            "line1": "disabled",
            "line2": "disabled",
        },
        "trial_interval": None,
        "trial_interval_count": None,
        "metadata": metadata,
        "external_customer_id": None,
        "products": [],
        "product": None,
        "product_price": None,
        "prices": None,
        "discount": None,
        "subscription_id": None,
        "attached_custom_fields": None,
        "customer_metadata": {},
    }


def signed_delivery(
    secret: str, event: dict[str, Any], message_id: str | None = None, sent_at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its Standard Webhooks headers, signed as Polar signs (the secret's bytes as key)."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    sent_at = sent_at or datetime.now(UTC)
    body = json.dumps(event)
    signer = Webhook(base64.b64encode(secret.encode()).decode())
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signer.sign(message_id, sent_at, body),
        "content-type": "application/json",
    }
    return body.encode(), headers


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
