"""Polar payments against a local server that answers like Polar's API: checkout creation and reuse,
the success redirect, and signed webhooks (replays, forgeries, stale timestamps, renewals, revocation)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mailservice.adapters.db.tables import checkouts, mailboxes, outbox, payment_events
from mailservice.bootstrap import Runtime, build_runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim, resolve
from tests.support.fake_polar import FakePolar, fake_polar, signed_delivery
from tests.support.keys import AgentKey
from tests.support.ports import free_port

POLAR_TOKEN = "polar_oat_test_token"
PRODUCT_ID = "8f0c4e0e-5d2a-4a57-9a55-6d0c1f1e0001"
WEBHOOK_SECRET = "polar_whs_test_secret_0123456789"


@pytest.fixture
def polar(clock: FixedClock) -> Iterator[FakePolar]:
    with fake_polar(clock.now) as api:
        yield api


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path, polar: FakePolar) -> Settings:
    return make_settings(
        database_dsn,
        tmp_path,
        polar_token=POLAR_TOKEN,
        polar_product_id=PRODUCT_ID,
        polar_server_url=polar.url,
        polar_webhook_secret=WEBHOOK_SECRET,
        session_recheck_seconds=60,  # open sessions end only by the events of this node's changes
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


def checkout_id_of(polar: FakePolar, payment_url: str) -> str:
    return next(cid for cid, checkout in polar.checkouts.items() if checkout["url"] == payment_url)


async def test_claim_opens_a_polar_checkout_for_the_mailbox(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    response = await claim(client, AgentKey.generate(), "Billing@Example.com")

    assert response.status_code == 201, response.text
    body = response.json()
    [sent] = polar.requests
    assert (sent.method, sent.path) == ("POST", "/v1/checkouts/")
    assert sent.headers["authorization"] == f"Bearer {POLAR_TOKEN}"
    assert sent.json() == {
        "products": [PRODUCT_ID],
        "customer_email": "billing@example.com",
        "metadata": {"mailbox_id": body["id"]},
        "success_url": f"{BASE_URL}/v1/payments/polar/success?checkout_id={{CHECKOUT_ID}}",
        "return_url": BASE_URL,
    }
    assert body["payment_url"].startswith("https://sandbox.polar.test/checkout/polar_c_")
    assert await count(runtime, outbox) == 1


async def test_repeated_claim_reuses_the_open_checkout_after_asking_polar(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    first = (await claim(client, key)).json()

    second = await claim(client, key)

    assert second.status_code == 200
    assert second.json()["payment_url"] == first["payment_url"]
    checkout_id = checkout_id_of(polar, first["payment_url"])
    assert [(r.method, r.path) for r in polar.requests] == [
        ("POST", "/v1/checkouts/"),
        ("GET", f"/v1/checkouts/{checkout_id}"),
    ]
    assert await count(runtime, checkouts) == 1


@pytest.mark.parametrize("polar_status", ["expired", "failed", "unknown to Polar"])
async def test_repeated_claim_replaces_a_checkout_polar_reports_expired(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, polar_status: str
) -> None:
    key = AgentKey.generate()
    first = (await claim(client, key)).json()
    old_id = checkout_id_of(polar, first["payment_url"])
    if polar_status == "unknown to Polar":
        old_url = polar.checkouts.pop(old_id)["url"]
        assert old_url == first["payment_url"]
    else:
        polar.set_status(old_id, polar_status)

    second = (await claim(client, key)).json()

    assert second["payment_url"] != first["payment_url"]
    assert second["payment_url"] == polar.checkouts[checkout_id_of(polar, second["payment_url"])]["url"]
    async with runtime.engine.connect() as connection:
        rows = (await connection.execute(select(checkouts.c.id, checkouts.c.status))).all()
    assert dict(rows)[old_id] == "expired"
    assert len(rows) == 2


async def test_checkout_past_its_expiry_is_replaced_without_asking_polar(
    client: httpx.AsyncClient, polar: FakePolar, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    first = (await claim(client, key)).json()
    clock.advance(timedelta(hours=2))

    second = (await claim(client, key)).json()

    assert second["payment_url"] != first["payment_url"]
    assert [r.method for r in polar.requests] == ["POST", "POST"]


async def test_provider_error_at_checkout_creation_answers_502_and_leaves_nothing_half_done(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    polar.fail_with = 500

    response = await claim(client, key)

    assert response.status_code == 502
    assert response.json()["code"] == "payment_provider_unavailable"
    assert "payment provider" in response.json()["error"]
    assert await count(runtime, checkouts) == 0
    assert await count(runtime, outbox) == 0

    polar.fail_with = None
    retried = await claim(client, key)
    assert retried.status_code == 200
    assert retried.json()["payment_url"].startswith("https://sandbox.polar.test/checkout/")
    assert await count(runtime, checkouts) == 1
    assert await count(runtime, outbox) == 1


async def test_unreachable_polar_answers_502(database_dsn: str, tmp_path: Path, clock: FixedClock) -> None:
    closed = make_settings(
        database_dsn,
        tmp_path,
        polar_token=POLAR_TOKEN,
        polar_product_id=PRODUCT_ID,
        polar_server_url=f"http://127.0.0.1:{free_port()}",
    )
    built = await build_runtime(closed, clock)
    try:
        transport = httpx.ASGITransport(app=built.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            response = await claim(http, AgentKey.generate())
        assert response.status_code == 502
        assert response.json()["code"] == "payment_provider_unavailable"
        assert await count(built, checkouts) == 0
    finally:
        await built.close()


async def test_success_redirect_answers_409_until_polar_reports_the_checkout_paid(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    url = f"/v1/payments/polar/success?checkout_id={checkout_id}"

    waiting = await client.get(url)
    assert waiting.status_code == 409
    assert waiting.json()["code"] == "not_paid"
    assert waiting.json()["status"] == "open"
    assert (await resolve(client, key)).status_code == 409

    polar.set_status(checkout_id, "succeeded")
    paid = await client.get(url)
    again = await client.get(url)

    assert paid.status_code == 200
    assert paid.json() == {
        "status": "paid",
        "mailbox_id": claimed["id"],
        "email": claimed["email"],
        "expires_at": "2026-02-28T12:00:00Z",
    }
    assert again.json() == paid.json()
    assert (await resolve(client, key)).status_code == 200
    assert (await mailbox_row(runtime, claimed["id"]))["expires_at"] == datetime(2026, 2, 28, 12, tzinfo=UTC)


async def test_success_redirect_shows_a_page_to_browsers(client: httpx.AsyncClient, polar: FakePolar) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    url = f"/v1/payments/polar/success?checkout_id={checkout_id}"

    waiting = await client.get(url, headers=browser)
    polar.set_status(checkout_id, "succeeded")
    paid = await client.get(url, headers=browser)

    assert waiting.status_code == 409
    assert "Payment not complete yet" in waiting.text
    assert paid.status_code == 200
    assert paid.headers["content-type"].startswith("text/html")
    assert "Payment received" in paid.text
    assert claimed["email"] in paid.text


async def test_success_redirect_for_an_unknown_checkout_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/payments/polar/success?checkout_id=nope")

    assert response.status_code == 404


# --- webhooks


def checkout_event(polar: FakePolar, checkout_id: str) -> dict[str, Any]:
    """What Polar sends: the checkout as it was when the event was made (we ask Polar again anyway)."""
    return {
        "type": "checkout.updated",
        "timestamp": "2026-01-31T12:00:05Z",
        "data": polar.checkouts[checkout_id],
    }


def subscription_event(
    event_type: str, mailbox_id: str, period_end: datetime, status: str, checkout_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": event_type,
        "timestamp": "2026-02-28T12:00:05Z",
        "data": {
            "id": "3a4b2f0c-0000-4000-8000-0000000000aa",
            "created_at": "2026-01-31T12:00:00Z",
            "modified_at": "2026-02-28T12:00:04Z",
            "amount": 299,
            "currency": "usd",
            "recurring_interval": "month",
            "recurring_interval_count": 1,
            "status": status,
            "current_period_start": (period_end - timedelta(days=31)).isoformat(),
            "current_period_end": period_end.isoformat(),
            "cancel_at_period_end": status == "canceled",
            "canceled_at": None,
            "started_at": "2026-01-31T12:00:00Z",
            "ends_at": None,
            "ended_at": None,
            "customer_id": "5c6d0000-0000-4000-8000-0000000000bb",
            "product_id": PRODUCT_ID,
            "checkout_id": checkout_id,
            "metadata": {"mailbox_id": mailbox_id},
        },
    }


async def post_polar(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/v1/webhooks/polar", content=body, headers=headers)


async def paid_through_webhook(client: httpx.AsyncClient, polar: FakePolar, key: AgentKey) -> dict[str, Any]:
    claimed: dict[str, Any] = (await claim(client, key)).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    polar.set_status(checkout_id, "succeeded")
    response = await post_polar(client, *signed_delivery(WEBHOOK_SECRET, checkout_event(polar, checkout_id)))
    assert response.json() == {"status": "processed"}, response.text
    return claimed


async def test_checkout_webhook_activates_the_mailbox_once_however_often_it_is_delivered(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    polar.set_status(checkout_id, "succeeded")
    body, headers = signed_delivery(WEBHOOK_SECRET, checkout_event(polar, checkout_id))

    answers = [await post_polar(client, body, headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers] == ["processed", "duplicate", "duplicate"]
    assert (await mailbox_row(runtime, claimed["id"]))["expires_at"] == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert (await resolve(client, key)).status_code == 200
    assert await count(runtime, payment_events) == 1


async def test_concurrent_duplicate_deliveries_apply_once(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, clock: FixedClock
) -> None:
    claimed = await paid_through_webhook(client, polar, AgentKey.generate())
    clock.set(datetime(2026, 2, 28, 12, 0, 5, tzinfo=UTC))
    period_end = datetime(2026, 3, 28, 12, tzinfo=UTC)
    body, headers = signed_delivery(
        WEBHOOK_SECRET, subscription_event("subscription.updated", claimed["id"], period_end, "active")
    )

    answers = await asyncio.gather(*(post_polar(client, body, headers) for _ in range(5)))

    assert sorted(a.json()["status"] for a in answers) == ["duplicate"] * 4 + ["processed"]
    assert (await mailbox_row(runtime, claimed["id"]))["expires_at"] == period_end
    assert await count(runtime, payment_events) == 2


async def test_checkout_webhook_trusts_polar_not_the_body(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    event = checkout_event(polar, checkout_id)
    event["data"] = {**event["data"], "status": "succeeded"}  # Polar itself still says open

    response = await post_polar(client, *signed_delivery(WEBHOOK_SECRET, event))

    assert response.json() == {"status": "ignored"}
    assert (await mailbox_row(runtime, claimed["id"]))["status"] == "pending_payment"


async def test_renewal_replayed_three_times_extends_to_the_period_end_once(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, clock: FixedClock
) -> None:
    claimed = await paid_through_webhook(client, polar, AgentKey.generate())
    clock.set(datetime(2026, 2, 28, 12, 0, 5, tzinfo=UTC))
    period_end = datetime(2026, 3, 28, 12, tzinfo=UTC)
    event = subscription_event("subscription.updated", claimed["id"], period_end, "active")
    body, headers = signed_delivery(WEBHOOK_SECRET, event)

    answers = [(await post_polar(client, body, headers)).json()["status"] for _ in range(3)]

    assert answers == ["processed", "duplicate", "duplicate"]
    row = await mailbox_row(runtime, claimed["id"])
    assert (row["status"], row["expires_at"]) == ("active", period_end)


async def test_renewal_order_extends_to_its_subscription_period_end(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    claimed = await paid_through_webhook(client, polar, AgentKey.generate())
    period_end = datetime(2026, 3, 28, 12, tzinfo=UTC)
    subscription = subscription_event("subscription.updated", claimed["id"], period_end, "active")["data"]
    order = {
        "type": "order.paid",
        "timestamp": "2026-02-28T12:00:05Z",
        "data": {
            "id": "7e8f0000-0000-4000-8000-0000000000cc",
            "status": "paid",
            "paid": True,
            "billing_reason": "subscription_cycle",
            "checkout_id": None,
            "subscription_id": subscription["id"],
            "metadata": {},
            "subscription": subscription,
        },
    }

    response = await post_polar(client, *signed_delivery(WEBHOOK_SECRET, order))

    assert response.json() == {"status": "processed"}
    assert (await mailbox_row(runtime, claimed["id"]))["expires_at"] == period_end


async def test_first_paid_order_pays_its_checkout(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    order = {
        "type": "order.paid",
        "timestamp": "2026-01-31T12:00:05Z",
        "data": {
            "id": "7e8f0000-0000-4000-8000-0000000000dd",
            "status": "paid",
            "paid": True,
            "billing_reason": "purchase",
            "checkout_id": checkout_id,
            "metadata": {"mailbox_id": claimed["id"]},
            "subscription": None,
        },
    }

    response = await post_polar(client, *signed_delivery(WEBHOOK_SECRET, order))

    assert response.json() == {"status": "processed"}
    assert (await resolve(client, key)).status_code == 200


async def test_first_subscription_period_and_its_checkout_count_once_in_any_order(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    one_month = datetime(2026, 2, 28, 12, tzinfo=UTC)
    created = subscription_event("subscription.created", claimed["id"], one_month, "active", checkout_id)
    polar.set_status(checkout_id, "succeeded")
    first_order = {
        "type": "order.paid",
        "data": {"paid": True, "billing_reason": "subscription_create", "checkout_id": checkout_id},
    }

    answers = [
        (await post_polar(client, *signed_delivery(WEBHOOK_SECRET, delivered)))
        for delivered in (created, checkout_event(polar, checkout_id), first_order)
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    row = await mailbox_row(runtime, claimed["id"])
    assert (row["status"], row["expires_at"]) == ("active", one_month)
    assert (await resolve(client, key)).status_code == 200


async def test_revoked_subscription_expires_the_mailbox_now(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    claimed = await paid_through_webhook(client, polar, key)
    clock.advance(timedelta(days=3))
    event = subscription_event(
        "subscription.revoked", claimed["id"], datetime(2026, 2, 28, tzinfo=UTC), "canceled"
    )

    response = await post_polar(client, *signed_delivery(WEBHOOK_SECRET, event))

    assert response.json() == {"status": "processed"}
    row = await mailbox_row(runtime, claimed["id"])
    assert (row["status"], row["expires_at"]) == ("expired", clock.now())
    refused = await resolve(client, key)
    assert (refused.status_code, refused.json()["status"]) == (409, "expired")


async def test_a_revoked_subscription_ends_a_pending_long_poll(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    claimed = await paid_through_webhook(client, polar, key)
    token = (await resolve(client, key)).json()["access_token"]
    waiting = asyncio.create_task(
        client.get("/v1/messages/wait", params={"timeout": 30}, headers={"Authorization": f"Bearer {token}"})
    )
    async with asyncio.timeout(10):  # subscribed: the long poll and its lease's watch
        while runtime.events.subscriber_count() < 2:  # noqa: ASYNC110 -- the request has no "waiting" signal
            await asyncio.sleep(0.01)
    event = subscription_event(
        "subscription.revoked", claimed["id"], datetime(2026, 2, 28, tzinfo=UTC), "canceled"
    )

    await post_polar(client, *signed_delivery(WEBHOOK_SECRET, event))

    async with asyncio.timeout(5):
        answer = await waiting
    assert (answer.status_code, answer.json()["code"]) == (409, "expired")


@pytest.mark.parametrize("event_type", ["subscription.canceled", "subscription.uncanceled"])
async def test_canceled_and_uncanceled_change_nothing(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, event_type: str
) -> None:
    claimed = await paid_through_webhook(client, polar, AgentKey.generate())
    before = await mailbox_row(runtime, claimed["id"])
    event = subscription_event(event_type, claimed["id"], datetime(2026, 2, 28, 12, tzinfo=UTC), "active")

    response = await post_polar(client, *signed_delivery(WEBHOOK_SECRET, event))

    assert response.json() == {"status": "ignored"}
    assert await mailbox_row(runtime, claimed["id"]) == before


async def test_forged_signature_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    polar.set_status(checkout_id, "succeeded")
    body, headers = signed_delivery("someone-elses-secret", checkout_event(polar, checkout_id))

    response = await post_polar(client, body, headers)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert (await mailbox_row(runtime, claimed["id"]))["status"] == "pending_payment"
    assert await count(runtime, payment_events) == 0


async def test_body_changed_after_signing_is_refused(client: httpx.AsyncClient, polar: FakePolar) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    body, headers = signed_delivery(WEBHOOK_SECRET, checkout_event(polar, checkout_id))

    response = await post_polar(client, body.replace(b"checkout.updated", b"checkout.created"), headers)

    assert response.status_code == 401


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
async def test_timestamp_outside_five_minutes_is_refused(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, offset: timedelta
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    checkout_id = checkout_id_of(polar, claimed["payment_url"])
    polar.set_status(checkout_id, "succeeded")
    sent_at = datetime.now(UTC) + offset
    body, headers = signed_delivery(WEBHOOK_SECRET, checkout_event(polar, checkout_id), sent_at=sent_at)

    response = await post_polar(client, body, headers)

    assert response.status_code == 401
    assert (await mailbox_row(runtime, claimed["id"]))["status"] == "pending_payment"
    assert await count(runtime, payment_events) == 0


async def test_missing_signature_headers_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/webhooks/polar", json={"type": "checkout.updated", "data": {}})

    assert response.status_code == 401


@pytest.fixture
async def runtime_without_webhook_secret(
    database_dsn: str, tmp_path: Path, polar: FakePolar, clock: FixedClock
) -> AsyncIterator[Runtime]:
    settings = make_settings(
        database_dsn,
        tmp_path,
        polar_token=POLAR_TOKEN,
        polar_product_id=PRODUCT_ID,
        polar_server_url=polar.url,
    )
    built = await build_runtime(settings, clock)
    yield built
    await built.close()


async def test_webhook_without_a_configured_secret_answers_503(
    runtime_without_webhook_secret: Runtime, polar: FakePolar
) -> None:
    body, headers = signed_delivery(WEBHOOK_SECRET, {"type": "checkout.updated", "data": {"id": "x"}})
    transport = httpx.ASGITransport(app=runtime_without_webhook_secret.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        response = await http.post("/v1/webhooks/polar", content=body, headers=headers)

    assert response.status_code == 503
    assert response.json()["code"] == "not_configured"


async def test_event_ids_are_forgotten_once_they_cannot_arrive_again(
    client: httpx.AsyncClient, polar: FakePolar, runtime: Runtime, clock: FixedClock
) -> None:
    await paid_through_webhook(client, polar, AgentKey.generate())
    processed_at = clock.now()

    clock.set(processed_at + timedelta(days=34))
    assert await runtime.services.payment_webhooks.forget_old_events() == 0
    assert await count(runtime, payment_events) == 1
    clock.set(processed_at + timedelta(days=36))
    assert await runtime.services.payment_webhooks.forget_old_events() == 1
    assert await count(runtime, payment_events) == 0
