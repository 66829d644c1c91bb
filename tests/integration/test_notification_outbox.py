"""A provider outage delays a payment e-mail but never loses it: the outbox retries with backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from mailservice.bootstrap import Runtime, build_runtime
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, resend_settings
from tests.support.agent import claim
from tests.support.fake_http import FakeApi, Recorded, Reply, fake_api
from tests.support.keys import AgentKey


class FlakyResend:
    """Resend's API, down (503) until told to come back."""

    def __init__(self) -> None:
        self.down = True

    def __call__(self, request: Recorded) -> Reply:
        if self.down:
            return Reply(503, {"statusCode": 503, "name": "internal_server_error", "message": "down"})
        return Reply(200, {"id": f"sent-{request.json()['to'][0]}"})


@pytest.fixture
def resend() -> FlakyResend:
    return FlakyResend()


@pytest.fixture
def api(resend: FlakyResend) -> Iterator[FakeApi]:
    with fake_api(resend) as running:
        yield running


@pytest.fixture
async def resend_runtime(
    database_dsn: str, tmp_path: Path, clock: FixedClock, api: FakeApi
) -> AsyncIterator[Runtime]:
    built = await build_runtime(resend_settings(database_dsn, tmp_path, api.url), clock)
    yield built
    await built.close()


async def test_payment_email_is_retried_after_a_notifier_outage(
    resend_runtime: Runtime, resend: FlakyResend, api: FakeApi, clock: FixedClock
) -> None:
    transport = httpx.ASGITransport(app=resend_runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        claimed = await claim(client, AgentKey.generate(), billing_email="payer@example.com")
    outbox = resend_runtime.services.outbox

    first = await outbox.drain_once()
    early = await outbox.drain_once()
    resend.down = False
    clock.advance(timedelta(minutes=2))
    second = await outbox.drain_once()
    after = await outbox.drain_once()

    assert (first.sent, first.failed) == (0, 1)
    assert (early.sent, early.failed) == (0, 0)  # backing off: not retried at once
    assert (second.sent, second.failed) == (1, 0)
    assert (after.sent, after.failed) == (0, 0)
    assert len(api.requests) == 2
    assert api.requests[0].body == api.requests[1].body
    sent = api.requests[1].json()
    assert sent["to"] == ["payer@example.com"]
    assert claimed.json()["payment_url"] in sent["text"]
