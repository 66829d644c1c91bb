"""The worker's side of the delivery queue: a claim takes no more than each endpoint has room for, and a
batch of outcomes is recorded in one transaction (an endpoint's last attempt in the batch decides its
health; a delivery gone with its endpoint is passed over), followed in the same transaction by a claim."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mailservice.adapters.db.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from mailservice.adapters.db.webhook_queue import SqlDeliveryQueue
from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from mailservice.domain.webhooks import (
    Attempt,
    ClaimedDelivery,
    ClaimRequest,
    DeliveryOutcome,
    DeliveryStatus,
)
from tests.support.mail import send, text_message
from tests.support.webhooks import Agent, new_agent, register, webhook_settings

LEASE = timedelta(seconds=60)
UNREACHABLE = "http://127.0.0.1:9/hook"  # never sent to here: the queue is driven by hand


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return webhook_settings(database_dsn, tmp_path)


async def mail(smtp_port: int, agent: Agent, count: int) -> None:
    for n in range(count):
        await send(smtp_port, text_message(agent.address, f"m{n}"), [agent.address])


def claim(now: datetime, limit: int = 100, room: dict[str, int] | None = None) -> ClaimRequest:
    return ClaimRequest(now, now + LEASE, limit, room or {}, per_endpoint=4)


def outcome(item: ClaimedDelivery, at: datetime, error: str | None = None) -> DeliveryOutcome:
    attempt = Attempt(at, 500 if error else 200, 3, error)
    if error is None:
        return DeliveryOutcome(item.delivery.id, item.endpoint.id, attempt, DeliveryStatus.SUCCEEDED, at)
    return DeliveryOutcome(
        item.delivery.id, item.endpoint.id, attempt, DeliveryStatus.PENDING, at + timedelta(seconds=5)
    )


async def test_a_claim_takes_no_more_than_the_limit_and_each_endpoints_room(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, clock: FixedClock
) -> None:
    agent = await new_agent(client)
    hook = await register(client, agent, UNREACHABLE)
    await mail(smtp_port, agent, 6)
    queue = SqlDeliveryQueue(runtime.database)
    now = clock.now()

    full = await queue.claim(claim(now, room={hook["id"]: 0}))
    two = await queue.claim(claim(now, room={hook["id"]: 2}))
    one = await queue.claim(claim(now, limit=1))
    rest = await queue.claim(claim(now))
    leased_meanwhile = await queue.claim(claim(now))

    assert (len(full), len(two), len(one), len(rest), len(leased_meanwhile)) == (0, 2, 1, 3, 0)
    ids = [item.delivery.id for item in two + one + rest]
    assert ids == sorted(ids) and len(set(ids)) == 6  # oldest first, none twice
    assert all(item.event is not None and item.endpoint.id == hook["id"] for item in rest)
    again = await queue.claim(claim(now + LEASE + timedelta(seconds=1)))
    assert len(again) == 4  # a lease that ran out makes its deliveries due again


async def test_a_batch_of_outcomes_is_recorded_together_then_claims_what_is_due(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, clock: FixedClock
) -> None:
    kept_agent, gone_agent = await new_agent(client), await new_agent(client)
    kept = await register(client, kept_agent, UNREACHABLE)
    gone = await register(client, gone_agent, UNREACHABLE)
    await mail(smtp_port, kept_agent, 3)
    await mail(smtp_port, gone_agent, 1)
    queue = SqlDeliveryQueue(runtime.database)
    now = clock.now()
    claimed = await queue.claim(claim(now))
    first, second, third = [item for item in claimed if item.endpoint.id == kept["id"]]
    [orphan] = [item for item in claimed if item.endpoint.id == gone["id"]]
    deleted = await client.delete(f"/v1/webhooks/{gone['id']}", headers=gone_agent.headers)

    # The kept endpoint's last attempt in the batch failed: it is failing since then.
    batch = [outcome(first, now), outcome(second, now, "HTTP 500"), outcome(orphan, now)]
    nothing_due = await queue.record(batch, claim(now))
    failing_since = await _failing_since(runtime, kept["id"])
    # A later batch whose last attempt succeeded heals it, and its claim takes the retry now due.
    later = now + timedelta(seconds=6)
    retried = await queue.record([outcome(third, later)], claim(later))

    assert deleted.status_code == 204 and nothing_due == []
    assert failing_since == now and await _failing_since(runtime, kept["id"]) is None
    assert [item.delivery.id for item in retried] == [second.delivery.id]
    assert retried[0].delivery.attempts == 1
    rows = await _deliveries(runtime)
    assert rows == {
        first.delivery.id: ("succeeded", 1),
        second.delivery.id: ("pending", 1),
        third.delivery.id: ("succeeded", 1),
    }
    assert await _attempted(runtime) == sorted([first.delivery.id, second.delivery.id, third.delivery.id])


async def _failing_since(runtime: Runtime, endpoint_id: str) -> datetime | None:
    query = select(webhook_endpoints.c.failing_since).where(webhook_endpoints.c.id == endpoint_id)
    async with runtime.database.engine.connect() as connection:
        found: datetime | None = (await connection.execute(query)).scalar_one()
        return found


async def _deliveries(runtime: Runtime) -> dict[int, tuple[str, int]]:
    query = select(webhook_deliveries.c.id, webhook_deliveries.c.status, webhook_deliveries.c.attempts)
    async with runtime.database.engine.connect() as connection:
        return {row.id: (row.status, row.attempts) for row in await connection.execute(query)}


async def _attempted(runtime: Runtime) -> list[int]:
    query = select(webhook_attempts.c.delivery_id).order_by(webhook_attempts.c.delivery_id)
    async with runtime.database.engine.connect() as connection:
        return list((await connection.execute(query)).scalars())
