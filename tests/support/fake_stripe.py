"""A local stand-in for Stripe's Checkout Sessions API (`POST /v1/checkout/sessions`, form encoded, and
`GET /v1/checkout/sessions/{id}`), answering with Stripe's documented session object, and a signer of
webhook deliveries with the stripe library's own test helper."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import stripe

from tests.support.fake_http import FakeApi, Recorded, Reply, fake_api

SESSION_LIFETIME = timedelta(hours=24)
_PATH = "/v1/checkout/sessions"


class FakeStripe:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.sessions: dict[str, dict[str, Any]] = {}
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

    def pay(self, session_id: str) -> dict[str, Any]:
        self.sessions[session_id].update(status="complete", payment_status="paid")
        return self.sessions[session_id]

    def answer(self, request: Recorded) -> Reply:
        if self.fail_with is not None:
            return Reply(self.fail_with, {"error": {"type": "api_error", "message": "Something went wrong."}})
        if request.method == "POST" and request.path == _PATH:
            return Reply(200, self._create(request.form()))
        if request.method == "GET" and request.path.startswith(f"{_PATH}/"):
            found = self.sessions.get(request.path.removeprefix(f"{_PATH}/"))
            if found is not None:
                return Reply(200, found)
        return Reply(
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": "No such checkout.session",
                }
            },
        )

    def _create(self, form: dict[str, list[str]]) -> dict[str, Any]:
        session_id = f"cs_test_{uuid.uuid4().hex}"
        created = self.now()
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "created": int(created.timestamp()),
            "expires_at": int((created + SESSION_LIFETIME).timestamp()),
            "amount_total": int(form["line_items[0][price_data][unit_amount]"][0]),
            "currency": form["line_items[0][price_data][currency]"][0],
            "customer_email": form["customer_email"][0],
            "client_reference_id": form["client_reference_id"][0],
            "metadata": {"mailbox_id": form["metadata[mailbox_id]"][0]},
            "success_url": form["success_url"][0],
            "cancel_url": form["cancel_url"][0],
            "livemode": False,
        }
        self.sessions[session_id] = session
        return session


@contextmanager
def fake_stripe(now: Callable[[], datetime]) -> Iterator[FakeStripe]:
    fake = FakeStripe(now)
    with fake_api(fake.answer) as api:
        fake.api = api
        yield fake


def event(event_type: str, session: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": 1769860800,
        "livemode": False,
        "type": event_type,
        "data": {"object": session},
    }


def signed_delivery(
    secret: str, payload: dict[str, Any], timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
