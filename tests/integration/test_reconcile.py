"""Payment reconciliation over the admin API and CLI: every open checkout is asked about, paid ones applied."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mailservice.adapters.db.tables import checkouts
from mailservice.bootstrap import Runtime
from mailservice.cli.main import app as cli_app
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.conftest import TEST_SECRET, make_settings
from tests.support.agent import claim, resolve
from tests.support.fake_polar import FakePolar, fake_polar
from tests.support.keys import AgentKey

ADMIN_KEY = "admin-key-for-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
POLAR_TOKEN = "polar_oat_test_token"
PRODUCT_ID = "8f0c4e0e-5d2a-4a57-9a55-6d0c1f1e0001"


@pytest.fixture
def polar(clock: FixedClock) -> Iterator[FakePolar]:
    with fake_polar(clock.now) as api:
        yield api


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Polar for the tests that ask for the `polar` fixture; mock payments for the others."""
    if "polar" not in request.fixturenames:
        return make_settings(database_dsn, tmp_path, admin_api_key=ADMIN_KEY)
    polar: FakePolar = request.getfixturevalue("polar")
    return make_settings(
        database_dsn,
        tmp_path,
        admin_api_key=ADMIN_KEY,
        polar_token=POLAR_TOKEN,
        polar_product_id=PRODUCT_ID,
        polar_server_url=polar.url,
    )


def polar_id(polar: FakePolar, payment_url: str) -> str:
    return next(cid for cid, checkout in polar.checkouts.items() if checkout["url"] == payment_url)


async def checkout_statuses(runtime: Runtime) -> dict[str, str]:
    async with runtime.engine.connect() as connection:
        rows = (await connection.execute(select(checkouts.c.id, checkouts.c.status))).all()
    return {row.id: row.status for row in rows}


async def reconcile(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/admin/payments/reconcile", headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_reconcile_applies_what_polar_reports_paid_and_records_what_expired(
    client: httpx.AsyncClient, runtime: Runtime, polar: FakePolar
) -> None:
    paid_key, expired_key, open_key = AgentKey.generate(), AgentKey.generate(), AgentKey.generate()
    paid = (await claim(client, paid_key)).json()
    expired = (await claim(client, expired_key)).json()
    await claim(client, open_key)
    polar.set_status(polar_id(polar, paid["payment_url"]), "succeeded")
    polar.set_status(polar_id(polar, expired["payment_url"]), "failed")

    first = await reconcile(client)
    second = await reconcile(client)

    counts = {"status": "ok", "provider": "polar", "failed": 0, "skipped": 0}
    assert first == {**counts, "checked": 3, "applied": 1, "still_open": 1, "expired": 1}
    assert second == {**counts, "checked": 1, "applied": 0, "still_open": 1, "expired": 0}
    assert (await resolve(client, paid_key)).json()["expires_at"] == "2026-02-28T12:00:00Z"
    assert (await resolve(client, expired_key)).json()["status"] == "waiting_payment"
    assert sorted((await checkout_statuses(runtime)).values()) == ["expired", "open", "paid"]


async def test_a_checkout_paid_just_before_it_expired_is_still_found(
    client: httpx.AsyncClient, polar: FakePolar, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    polar.set_status(polar_id(polar, claimed["payment_url"]), "succeeded")
    clock.advance(timedelta(hours=3))  # the checkout's own expiry (one hour) has passed; the webhook was lost

    result = await reconcile(client)

    assert (result["checked"], result["applied"]) == (1, 1)
    assert (await resolve(client, key)).json()["expires_at"] == "2026-02-28T15:00:00Z"


async def test_a_polar_outage_counts_as_failed_and_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, polar: FakePolar
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    polar.set_status(polar_id(polar, claimed["payment_url"]), "succeeded")
    polar.fail_with = 500

    during = await reconcile(client)
    polar.fail_with = None
    after = await reconcile(client)

    assert (during["checked"], during["failed"], during["applied"]) == (1, 1, 0)
    assert (after["failed"], after["applied"]) == (0, 1)


async def test_reconcile_with_mock_payments_keeps_unpaid_checkouts_open_and_skips_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await claim(client, AgentKey.generate())
    paid = (await claim(client, AgentKey.generate())).json()
    await client.get(paid["payment_url"])

    result = await reconcile(client)

    assert result == {
        "status": "ok",
        "provider": "mock",
        "checked": 1,
        "applied": 0,
        "still_open": 1,
        "expired": 0,
        "failed": 0,
        "skipped": 0,
    }


async def test_admin_cli_reconciles(
    client: httpx.AsyncClient, polar: FakePolar, settings: Settings, tmp_path: Path
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()
    polar.set_status(polar_id(polar, claimed["payment_url"]), "succeeded")
    env = {
        "DATABASE_DSN": settings.database_dsn,
        "SECRET_KEY": TEST_SECRET,
        "DATA_DIR": str(tmp_path),
        "POLAR_TOKEN": POLAR_TOKEN,
        "POLAR_PRODUCT_ID": PRODUCT_ID,
        "POLAR_SERVER_URL": polar.url,
    }

    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["admin", "reconcile"], env=env)

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "provider": "polar",
        "checked": 1,
        "applied": 1,
        "still_open": 0,
        "expired": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert (await resolve(client, key)).status_code == 200


async def test_checkouts_of_another_provider_are_skipped(
    client: httpx.AsyncClient, runtime: Runtime, polar: FakePolar, clock: FixedClock
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    async with runtime.engine.begin() as connection:
        await connection.execute(
            checkouts.insert().values(
                id="mock_from_before_polar",
                mailbox_id=claimed["id"],
                provider="mock",
                url="http://mailservice.test/mock/pay/mock_from_before_polar",
                status="open",
                months=1,
                created_at=clock.now() - timedelta(days=1),
            )
        )

    result = await reconcile(client)

    assert (result["checked"], result["skipped"], result["still_open"]) == (1, 1, 1)
    assert [(r.method, r.path) for r in polar.requests][-1] == (
        "GET",
        f"/v1/checkouts/{polar_id(polar, claimed['payment_url'])}",
    )
