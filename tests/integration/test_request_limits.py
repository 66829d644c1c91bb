"""The global concurrency limit under a burst, and the per-IP rate limits, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailservice.bootstrap import Runtime, build_runtime
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, make_settings
from tests.support.agent import signed_proof
from tests.support.databases import create_postgres_database, drop_postgres_database
from tests.support.keys import AgentKey

DEADLINE_SECONDS = 10.0


@pytest.fixture
async def limited(database_dsn: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Runtime]:
    settings = make_settings(database_dsn, tmp_path, max_concurrent_requests=2, rate_limit_per_minute=3)
    runtime = await build_runtime(settings, clock)
    yield runtime
    await runtime.close()


def client_for(runtime: Runtime, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=runtime.app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


class Gate:
    """A route that holds requests until released, counting those inside."""

    def __init__(self) -> None:
        self.inside = 0
        self.release = asyncio.Event()

    async def hold(self) -> dict[str, str]:
        self.inside += 1
        await self.release.wait()
        return {"status": "held"}

    async def wait_until_inside(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while self.inside < count:
            assert time.monotonic() < deadline, f"only {self.inside} of {count} requests got in"
            await asyncio.sleep(0.01)


def gated(runtime: Runtime) -> Gate:
    gate = Gate()
    runtime.app.add_api_route("/test/hold", gate.hold)
    return gate


async def test_a_burst_beyond_the_limit_gets_503_with_retry_after(limited: Runtime) -> None:
    gate = gated(limited)
    async with client_for(limited) as client:
        held = [asyncio.create_task(client.get("/test/hold")) for _ in range(2)]
        await gate.wait_until_inside(2)

        burst = await asyncio.gather(*(client.get("/test/hold") for _ in range(20)))
        health = await client.get("/healthz")
        inside_during_burst = gate.inside
        gate.release.set()
        finished = await asyncio.gather(*held)
        after = await client.get("/test/hold")

    assert {r.status_code for r in burst} == {503}
    for response in burst:
        seconds = response.json()["retry_after_seconds"]
        assert 3 <= seconds <= 100
        assert response.headers["retry-after"] == str(seconds)
        assert response.json()["error"] == f"concurrency limit reached, please try again in {seconds} seconds"
    assert inside_during_burst == 2
    assert health.status_code == 200
    assert [r.status_code for r in finished] == [200, 200]
    assert after.status_code == 200


async def test_zero_disables_the_concurrency_limit(
    database_dsn: str, tmp_path: Path, clock: FixedClock
) -> None:
    runtime = await build_runtime(make_settings(database_dsn, tmp_path, max_concurrent_requests=0), clock)
    gate = gated(runtime)
    try:
        async with client_for(runtime) as client:
            held = [asyncio.create_task(client.get("/test/hold")) for _ in range(30)]
            await gate.wait_until_inside(30)
            gate.release.set()
            assert {r.status_code for r in await asyncio.gather(*held)} == {200}
    finally:
        await runtime.close()


async def claim_body(client: httpx.AsyncClient) -> dict[str, Any]:
    return {"billing_email": "b@example.com", **await signed_proof(client, AgentKey.generate())}


async def test_claims_beyond_the_per_ip_rate_get_429_until_the_bucket_refills(
    limited: Runtime, clock: FixedClock
) -> None:
    async with client_for(limited) as client, client_for(limited, "198.51.100.9") as other:
        bodies = [await claim_body(client) for _ in range(5)]
        allowed = [await client.post("/v1/mailboxes/claim", json=body) for body in bodies[:3]]
        refused = await client.post("/v1/mailboxes/claim", json=bodies[3])
        elsewhere = await other.post("/v1/mailboxes/claim", json=await claim_body(other))
        clock.advance(timedelta(seconds=20))
        refilled = await client.post("/v1/mailboxes/claim", json=await claim_body(client))

    assert [r.status_code for r in allowed] == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert refused.json()["error"] == "too many requests, try again in 20 seconds"
    assert refused.headers["retry-after"] == str(refused.json()["retry_after_seconds"]) == "20"
    assert elsewhere.status_code == 201
    assert refilled.status_code == 201


async def test_addresses_of_one_ipv6_network_share_one_bucket(limited: Runtime) -> None:
    key = AgentKey.generate()
    statuses = []
    for host in range(1, 8):  # one client walking the /64 its provider gave it
        async with client_for(limited, f"2001:db8:1:2::{host}") as client:
            answer = await client.post("/v1/auth/challenge", json={"public_key": key.public_line})
            statuses.append(answer.status_code)
    async with client_for(limited, "2001:db8:1:3::1") as neighbour:
        other_network = await neighbour.post("/v1/auth/challenge", json={"public_key": key.public_line})

    assert statuses == [200] * 6 + [429]
    assert other_network.status_code == 200


async def test_challenges_cost_half_a_request(limited: Runtime) -> None:
    key = AgentKey.generate()
    async with client_for(limited) as client:
        responses = [
            await client.post("/v1/auth/challenge", json={"public_key": key.public_line}) for _ in range(7)
        ]

    assert [r.status_code for r in responses] == [200] * 6 + [429]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/access/resolve", {"protocol": "imap", "edproof": "x"}),
        ("POST", "/v1/imap/resolve", {"access_token": "mat_x"}),
        ("POST", "/v1/accounts/recovery/start", {"owner_email": "o@example.com"}),
        ("POST", "/v1/accounts/recovery/complete", {"token": "rec_x"}),
        ("GET", "/v1/accounts/recovery/complete?token=rec_x", None),
        ("POST", "/v1/support/messages", {"edproof": "x", "subject": "s", "body": "b"}),
    ],
)
async def test_key_proof_and_recovery_endpoints_are_rate_limited(
    limited: Runtime, method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with client_for(limited) as client:
        statuses = [(await client.request(method, path, json=body)).status_code for _ in range(4)]

    assert 429 not in statuses[:3]
    assert statuses[3] == 429


async def test_readiness_reports_the_figures_while_slots_are_free(limited: Runtime) -> None:
    async with client_for(limited) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    figures = response.json()
    assert figures["status"] == "ready"
    assert (figures["requests_in_flight"], figures["max_concurrent_requests"], figures["reading_bodies"]) == (
        0,
        2,
        0,
    )
    assert figures["database_ms"] >= 0


async def test_readiness_answers_503_while_every_slot_is_taken(limited: Runtime) -> None:
    gate = gated(limited)
    async with client_for(limited) as client:
        held = [asyncio.create_task(client.get("/test/hold")) for _ in range(2)]
        await gate.wait_until_inside(2)
        saturated = await client.get("/readyz")
        gate.release.set()
        await asyncio.gather(*held)
        after = await client.get("/readyz")

    assert saturated.status_code == 503
    assert saturated.json() == {
        "error": "every request slot is taken",
        "code": "not_ready",
        "requests_in_flight": 2,
        "max_concurrent_requests": 2,
        "reading_bodies": 0,
    }
    assert after.status_code == 200


async def test_readiness_answers_503_when_the_database_is_gone(tmp_path: Path, clock: FixedClock) -> None:
    dsn = create_postgres_database()
    runtime = await build_runtime(make_settings(dsn, tmp_path), clock)
    try:
        async with client_for(runtime) as client:
            before = await client.get("/readyz")
            await asyncio.to_thread(drop_postgres_database, dsn)
            gone = await client.get("/readyz")
            health = await client.get("/healthz")
    finally:
        await runtime.close()

    assert before.status_code == 200
    assert gone.status_code == 503
    assert gone.json()["error"] == "the database does not answer"
    assert gone.json()["code"] == "not_ready"
    assert health.status_code == 200


async def test_a_body_sent_in_chunks_without_a_length_is_cut_off_past_one_mebibyte(limited: Runtime) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b"x" * 65536

    async with client_for(limited) as client:
        response = await client.post("/v1/auth/challenge", content=chunks())

    assert response.status_code == 413
    assert response.json() == {"error": "request body is larger than 1048576 bytes", "code": "too_large"}


async def test_health_checks_and_long_waits_are_answered_while_every_slot_is_taken(limited: Runtime) -> None:
    gate = gated(limited)
    async with client_for(limited) as client:
        held = [asyncio.create_task(client.get("/test/hold")) for _ in range(2)]
        await gate.wait_until_inside(2)
        health = await client.get("/healthz")
        wait = await client.get("/v1/messages/wait")  # no token: refused by auth, not by the limit
        events = await client.get("/v1/events")
        other = await client.get("/llms.txt")
        gate.release.set()
        await asyncio.gather(*held)

    assert health.status_code == 200
    assert (wait.status_code, events.status_code) == (401, 401)
    assert other.status_code == 503
