"""Notification bodies at rest: sealed while queued, dropped once sent or given up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mailservice.adapters.db.outbox import DROPPED_BODY
from mailservice.adapters.db.sealed_text import PREFIX
from mailservice.adapters.db.tables import outbox
from mailservice.bootstrap import Runtime, build_runtime
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, make_settings, resend_settings
from tests.support.agent import claim
from tests.support.fake_http import FakeApi, Reply, fake_api
from tests.support.keys import AgentKey

OTHER_SECRET = "another-secret-key-that-is-long-enough-0123456789"


async def stored_rows(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as connection:
        rows = (await connection.execute(select(outbox).order_by(outbox.c.id))).mappings().all()
    return [dict(row) for row in rows]


async def claim_on(runtime: Runtime) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        claimed = await claim(client, AgentKey.generate())
    assert claimed.status_code == 201, claimed.text
    body: dict[str, Any] = claimed.json()
    return body


async def test_a_queued_body_is_sealed_and_a_sent_one_is_dropped(runtime: Runtime) -> None:
    # given
    claimed = await claim_on(runtime)
    [queued] = await stored_rows(runtime)
    # when
    result = await runtime.services.outbox.drain_once()
    [sent] = await stored_rows(runtime)
    # then
    assert queued["body_text"].startswith(PREFIX) and queued["body_html"].startswith(PREFIX)
    assert claimed["payment_url"] not in queued["body_text"] + queued["body_html"]
    assert result.sent == 1
    assert (sent["status"], sent["body_text"], sent["body_html"]) == ("sent", DROPPED_BODY, DROPPED_BODY)
    assert (sent["subject"], sent["recipient"]) == (queued["subject"], queued["recipient"])


@pytest.fixture
def provider_down() -> Iterator[FakeApi]:
    with fake_api(lambda request: Reply(503, {"statusCode": 503, "message": "down"})) as running:
        yield running


@pytest.fixture
async def failing_runtime(
    database_dsn: str, tmp_path: Path, clock: FixedClock, provider_down: FakeApi
) -> AsyncIterator[Runtime]:
    built = await build_runtime(resend_settings(database_dsn, tmp_path, provider_down.url), clock)
    yield built
    await built.close()


async def test_a_notification_given_up_keeps_no_body(failing_runtime: Runtime, clock: FixedClock) -> None:
    # given
    await claim_on(failing_runtime)
    # when: every attempt fails until the outbox gives up
    for _ in range(12):
        await failing_runtime.services.outbox.drain_once()
        clock.advance(timedelta(hours=7))
    # then
    [given_up] = await stored_rows(failing_runtime)
    assert (given_up["status"], given_up["attempts"]) == ("failed", 12)
    assert (given_up["body_text"], given_up["body_html"]) == (DROPPED_BODY, DROPPED_BODY)


@pytest.fixture
async def other_secret_runtime(
    database_dsn: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Runtime]:
    settings = make_settings(database_dsn, tmp_path / "other", secret_key=OTHER_SECRET)
    built = await build_runtime(settings, clock)
    yield built
    await built.close()


async def test_a_body_sealed_under_another_secret_is_given_up_without_blocking_the_queue(
    runtime: Runtime, other_secret_runtime: Runtime
) -> None:
    # given: one notification queued under another SECRET_KEY, then one under ours
    await claim_on(other_secret_runtime)
    await claim_on(runtime)
    # when
    result = await runtime.services.outbox.drain_once()
    # then
    unreadable, ours = await stored_rows(runtime)
    assert result.sent == 1
    assert ours["status"] == "sent"
    assert (unreadable["status"], unreadable["body_text"]) == ("failed", DROPPED_BODY)
    assert "cannot be opened with this SECRET_KEY" in unreadable["last_error"]


async def test_bodies_kept_from_before_are_dropped_when_the_worker_starts(
    runtime: Runtime, clock: FixedClock
) -> None:
    # given: a sent row written before bodies were dropped, and a pending one
    link = f"{BASE_URL}/v1/accounts/recovery/complete?token=rec_from-an-older-version"
    async with runtime.engine.begin() as connection:
        await connection.execute(
            outbox.insert().values(
                kind="recovery_link",
                recipient="owner@example.com",
                subject="Recover",
                body_text=link,
                body_html=link,
                status="sent",
                attempts=1,
                next_attempt_at=clock.now(),
                created_at=clock.now(),
                sent_at=clock.now(),
            )
        )
    await claim_on(runtime)
    # when
    worker = asyncio.create_task(runtime.services.outbox.run(poll_seconds=3600))
    try:
        rows = await _until(runtime, lambda rows: rows[0]["body_text"] == DROPPED_BODY)
    finally:
        worker.cancel()
    # then
    assert (rows[0]["body_text"], rows[0]["body_html"]) == (DROPPED_BODY, DROPPED_BODY)


async def _until(
    runtime: Runtime, done: Callable[[list[dict[str, Any]]], bool], deadline_seconds: float = 10.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        rows = await stored_rows(runtime)
        if done(rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"not done before the deadline: {await stored_rows(runtime)}")
