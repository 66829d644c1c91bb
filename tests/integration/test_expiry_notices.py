"""Renewal reminders and expired notices: queued in the outbox once per mailbox and period, by the sweep."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from mailservice.bootstrap import Runtime, build_runtime, expiry_sweep
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from mailservice.services.reminders import NoticesQueued
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import claim, claim_and_pay, resolve, signed_proof
from tests.support.keys import AgentKey
from tests.support.outbox import outbox_rows

# claim_and_pay at the fixture clock (2026-01-31 12:00 UTC) makes a mailbox that expires at this moment.
EXPIRES = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


async def notices(runtime: Runtime) -> list[dict[str, Any]]:
    return await outbox_rows(runtime, "renewal_reminder", "mailbox_expired")


async def test_the_reminder_is_queued_once_when_expiry_is_seven_days_away(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    clock.set(EXPIRES - timedelta(days=7, minutes=1))
    early = await runtime.services.expiry_notices.queue_due()

    clock.set(EXPIRES - timedelta(days=7))
    due = await runtime.services.expiry_notices.queue_due()
    again = await runtime.services.expiry_notices.queue_due()

    assert (early, due, again) == (NoticesQueued(0, 0), NoticesQueued(1, 0), NoticesQueued(0, 0))
    [reminder] = await notices(runtime)
    assert reminder["recipient"] == "billing@example.com"
    assert reminder["subject"] == "Your mailbox expires in 7 days"
    assert details["email"] in reminder["body_text"]
    assert "2026-02-28T12:00:00Z" in reminder["body_text"]
    assert f"{BASE_URL}/docs/agent-api-skill.md" in reminder["body_html"]
    assert reminder["dedupe_key"] == f"renewal_reminder:{details['mailbox_id']}:{EXPIRES.isoformat()}"
    assert (await runtime.services.outbox.drain_once()).sent >= 1


async def test_the_sweep_queues_the_expired_notice_once(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    await claim_and_pay(client, AgentKey.generate())
    clock.set(EXPIRES + timedelta(minutes=5))

    await expiry_sweep(runtime.services)
    await expiry_sweep(runtime.services)

    [notice] = await notices(runtime)
    assert (notice["kind"], notice["subject"]) == ("mailbox_expired", "Your mailbox has expired")
    assert "expired on 2026-02-28T12:00:00Z" in notice["body_text"]


async def test_a_mailbox_expired_by_the_lazy_check_still_gets_its_notice(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    clock.set(EXPIRES + timedelta(hours=1))
    assert (await resolve(client, key)).json()["status"] == "expired"

    await expiry_sweep(runtime.services)

    assert [n["kind"] for n in await notices(runtime)] == ["mailbox_expired"]


async def test_renewal_starts_a_new_period_with_its_own_reminder(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    clock.set(EXPIRES - timedelta(days=6))
    await expiry_sweep(runtime.services)
    proof = await signed_proof(client, key)
    link = (await client.post("/v1/mailboxes/renew", json=proof)).json()["payment_url"]
    await client.get(link)

    clock.set(datetime(2026, 3, 22, 12, 0, tzinfo=UTC))
    await expiry_sweep(runtime.services)
    clock.set(datetime(2026, 3, 29, tzinfo=UTC))
    await expiry_sweep(runtime.services)

    assert [(n["kind"], n["subject"]) for n in await notices(runtime)] == [
        ("renewal_reminder", "Your mailbox expires in 6 days"),
        ("renewal_reminder", "Your mailbox expires in 6 days"),
        ("mailbox_expired", "Your mailbox has expired"),
    ]
    assert "2026-03-28T12:00:00Z" in (await notices(runtime))[1]["body_text"]


async def test_no_notice_for_unpaid_mailboxes_or_expiries_long_past(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    await claim(client, AgentKey.generate())
    await claim_and_pay(client, AgentKey.generate())
    clock.set(EXPIRES + timedelta(days=8))

    await expiry_sweep(runtime.services)

    assert await notices(runtime) == []


async def test_two_nodes_sweeping_at_once_queue_each_notice_once(
    client: httpx.AsyncClient, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    for _ in range(3):
        await claim_and_pay(client, AgentKey.generate())
    clock.set(EXPIRES - timedelta(days=2))
    nodes = [
        await build_runtime(make_settings(settings.database_dsn, tmp_path / name), clock) for name in "ab"
    ]
    try:
        results = await asyncio.gather(*(node.services.expiry_notices.queue_due() for node in nodes * 3))
        queued = await notices(nodes[0])
    finally:
        for node in nodes:
            await node.close()

    assert sum(result.reminders for result in results) == 3
    assert len(queued) == 3
    assert len({row["dedupe_key"] for row in queued}) == 3
