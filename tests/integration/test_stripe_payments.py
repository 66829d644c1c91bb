"""Stripe Checkout against a local server that answers like Stripe's API, and Stripe webhooks signed with
the stripe library's scheme: only paid sessions activate, each event applies once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mailservice.adapters.db.tables import checkouts, mailboxes, outbox, payment_events
from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim, resolve
from tests.support.fake_stripe import FakeStripe, event, fake_stripe, signed_delivery
from tests.support.keys import AgentKey

SECRET_KEY = "sk_test_0123456789"
WEBHOOK_SECRET = "whsec_test_0123456789"


@pytest.fixture
def stripe_api(clock: FixedClock) -> Iterator[FakeStripe]:
    with fake_stripe(clock.now) as api:
        yield api


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path, stripe_api: FakeStripe) -> Settings:
    return make_settings(
        database_dsn,
        tmp_path,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_api.url,
        stripe_currency="EUR",
        mailbox_price_cents=450,
    )


async def count(runtime: Runtime, table: Any) -> int:
    async with runtime.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def mailbox_row(runtime: Runtime, mailbox_id: str) -> dict[str, Any]:
    async with runtime.engine.connect() as connection:
        row = (
            (await connection.execute(select(mailboxes).where(mailboxes.c.id == mailbox_id))).mappings().one()
        )
        return dict(row)


def session_of(stripe_api: FakeStripe, payment_url: str) -> dict[str, Any]:
    return next(s for s in stripe_api.sessions.values() if s["url"] == payment_url)


async def post_stripe(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/v1/webhooks/stripe", content=body, headers=headers)


async def test_claim_opens_a_checkout_session_in_payment_mode(
    client: httpx.AsyncClient, stripe_api: FakeStripe
) -> None:
    response = await claim(client, AgentKey.generate())

    assert response.status_code == 201, response.text
    body = response.json()
    [sent] = stripe_api.requests
    assert (sent.method, sent.path) == ("POST", "/v1/checkout/sessions")
    assert sent.headers["authorization"] == f"Bearer {SECRET_KEY}"
    form = {name: values[0] for name, values in sent.form().items()}
    assert form == {
        "mode": "payment",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "450",
        "line_items[0][price_data][product_data][name]": "Mailbox, one month",
        "customer_email": "billing@example.com",
        "client_reference_id": body["id"],
        "metadata[mailbox_id]": body["id"],
        "success_url": f"{BASE_URL}/payment/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{BASE_URL}/payment/cancel",
    }
    assert body["payment_url"].startswith("https://checkout.stripe.test/c/pay/cs_test_")


async def test_repeated_claim_reuses_the_open_session(
    client: httpx.AsyncClient, stripe_api: FakeStripe, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    first = (await claim(client, key)).json()

    second = (await claim(client, key)).json()

    assert second["payment_url"] == first["payment_url"]
    assert [r.method for r in stripe_api.requests] == ["POST", "GET"]
    assert await count(runtime, checkouts) == 1


async def test_paid_session_webhook_delivered_three_times_adds_one_month(
    client: httpx.AsyncClient, stripe_api: FakeStripe, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    session = stripe_api.pay(session_of(stripe_api, claimed["payment_url"])["id"])
    body, headers = signed_delivery(WEBHOOK_SECRET, event("checkout.session.completed", session))

    answers = [await post_stripe(client, body, headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers] == ["processed", "duplicate", "duplicate"]
    assert (await mailbox_row(runtime, claimed["id"]))["expires_at"] == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert (await resolve(client, key)).status_code == 200
    assert await count(runtime, payment_events) == 1


async def test_completed_and_async_succeeded_events_of_one_session_add_one_month(
    client: httpx.AsyncClient, stripe_api: FakeStripe, runtime: Runtime
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    session = stripe_api.pay(session_of(stripe_api, claimed["payment_url"])["id"])

    for event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        response = await post_stripe(client, *signed_delivery(WEBHOOK_SECRET, event(event_type, session)))
        assert response.json() == {"status": "processed"}

    assert (await mailbox_row(runtime, claimed["id"]))["expires_at"] == datetime(2026, 2, 28, 12, tzinfo=UTC)


async def test_completed_but_unpaid_session_does_not_activate(
    client: httpx.AsyncClient, stripe_api: FakeStripe, runtime: Runtime
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    session = {
        **session_of(stripe_api, claimed["payment_url"]),
        "status": "complete",
    }  # async payment pending

    response = await post_stripe(
        client, *signed_delivery(WEBHOOK_SECRET, event("checkout.session.completed", session))
    )

    assert response.json() == {"status": "ignored"}
    assert (await mailbox_row(runtime, claimed["id"]))["status"] == "pending_payment"


async def test_forged_and_stale_signatures_are_refused(
    client: httpx.AsyncClient, stripe_api: FakeStripe, runtime: Runtime
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    session = stripe_api.pay(session_of(stripe_api, claimed["payment_url"])["id"])
    paid = event("checkout.session.completed", session)

    forged = await post_stripe(client, *signed_delivery("whsec_not_ours", paid))
    stale = await post_stripe(client, *signed_delivery(WEBHOOK_SECRET, paid, int(time.time()) - 301))
    unsigned = await client.post("/v1/webhooks/stripe", json=paid)

    assert [forged.status_code, stale.status_code, unsigned.status_code] == [401, 401, 401]
    assert (await mailbox_row(runtime, claimed["id"]))["status"] == "pending_payment"
    assert await count(runtime, payment_events) == 0


async def test_provider_error_answers_502_and_leaves_nothing_half_done(
    client: httpx.AsyncClient, stripe_api: FakeStripe, runtime: Runtime
) -> None:
    stripe_api.fail_with = 500

    response = await claim(client, AgentKey.generate())

    assert response.status_code == 502
    assert response.json()["code"] == "payment_provider_unavailable"
    assert await count(runtime, checkouts) == 0
    assert await count(runtime, outbox) == 0


async def test_success_page_applies_a_session_stripe_reports_paid(
    client: httpx.AsyncClient, stripe_api: FakeStripe
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    session_id = session_of(stripe_api, claimed["payment_url"])["id"]

    waiting = await client.get(f"/payment/success?session_id={session_id}")
    stripe_api.pay(session_id)
    paid = await client.get(f"/payment/success?session_id={session_id}", headers={"Accept": "text/html"})

    assert waiting.status_code == 409
    assert paid.status_code == 200
    assert "Payment received" in paid.text
    assert (await resolve(client, key)).status_code == 200


async def test_cancel_page_exists(client: httpx.AsyncClient) -> None:
    page = await client.get("/payment/cancel", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert "Payment canceled" in page.text
