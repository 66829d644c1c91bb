"""Webhooks end to end: registered over the API, written with the event, signed, sent by the worker
to a real receiver on loopback, retried on the schedule with a moving clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mailservice.bootstrap import Runtime, build_runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.support.mail import send, text_message
from tests.support.outbox import outbox_rows
from tests.support.ports import free_port
from tests.support.webhooks import (
    Agent,
    deliveries,
    new_agent,
    receiver,
    register,
    run_worker,
    webhook_settings,
)

TIMEOUT = 1.0


@pytest.fixture
def webhook_timeout() -> float:
    return TIMEOUT


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path, webhook_timeout: float) -> Settings:
    return webhook_settings(
        database_dsn, tmp_path, webhook_timeout_seconds=webhook_timeout, webhook_endpoint_concurrency=2
    )


async def mail(smtp_port: int, agent: Agent, subject: str = "Hello") -> None:
    await send(smtp_port, text_message(agent.address, subject), [agent.address])


async def test_new_mail_is_posted_signed_with_what_the_agent_needs(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    agent = await new_agent(client)
    with receiver() as hook:
        created = await register(client, agent, hook.url)
        await mail(smtp_port, agent, "Your code is 551234")

        assert await run_worker(runtime) == 1

        [payload] = hook.payloads(created["secret"])
    assert created["secret"].startswith("whsec_") and created["id"].startswith("wh_")
    assert created["events"] == ["message.received", "mailbox.expiring", "mailbox.expired", "mailbox.renewed"]
    assert payload["type"] == "message.received" and payload["mailbox_id"] == agent.mailbox_id
    assert payload["data"]["uid"] == 1 and payload["data"]["subject"] == "Your code is 551234"
    assert payload["data"]["codes"][0]["code"] == "551234"
    [delivery] = await deliveries(client, agent, created["id"])
    assert delivery["status"] == "succeeded" and delivery["event_id"] == payload["id"]
    assert delivery["webhook_id"] == hook.requests[0].headers["webhook-id"]
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["latency_ms"] >= 0
    assert "secret" not in (await client.get(f"/v1/webhooks/{created['id']}", headers=agent.headers)).json()


async def test_a_failing_endpoint_is_retried_on_the_schedule_with_the_same_webhook_id(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, clock: FixedClock
) -> None:
    agent = await new_agent(client)
    start = clock.now()
    with receiver([500, 503, 200]) as hook:
        created = await register(client, agent, hook.url)
        await mail(smtp_port, agent)
        await run_worker(runtime)
        [first] = await deliveries(client, agent, created["id"])
        clock.set(start + timedelta(seconds=4))
        assert await run_worker(runtime) == 0  # not due before 4.5 s (5 s less a tenth)
        clock.set(start + timedelta(seconds=6))
        await run_worker(runtime)
        [second] = await deliveries(client, agent, created["id"])
        clock.set(start + timedelta(seconds=6, minutes=6))
        await run_worker(runtime)

        assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
        assert len(hook.payloads(created["secret"])) == 3
    [done] = await deliveries(client, agent, created["id"])
    assert [a["status_code"] for a in done["attempts"]] == [500, 503, 200]
    assert [a["error"] for a in done["attempts"]] == ["HTTP 500", "HTTP 503", None]
    assert done["status"] == "succeeded" and done["next_attempt_at"] is None
    assert _ms(_after(first["next_attempt_at"], start)) in _around(timedelta(seconds=5))
    assert _ms(_after(second["next_attempt_at"], start + timedelta(seconds=6))) in _around(
        timedelta(minutes=5)
    )


async def test_timeouts_and_refused_connections_are_attempts_that_failed(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    agent = await new_agent(client)
    with receiver(delay=TIMEOUT * 1.5) as slow:
        timing_out = await register(client, agent, slow.url)
        refusing = await register(client, agent, f"http://127.0.0.1:{free_port()}/hook")
        await mail(smtp_port, agent)
        await run_worker(runtime)

    [timed_out] = await deliveries(client, agent, timing_out["id"])
    [refused] = await deliveries(client, agent, refusing["id"])
    assert timed_out["status"] == refused["status"] == "pending"
    assert timed_out["attempts"][0]["error"] == f"timed out after {TIMEOUT:g} s"
    assert timed_out["attempts"][0]["latency_ms"] < TIMEOUT * 1000 + 300
    assert refused["attempts"][0]["error"].startswith("cannot connect")
    assert refused["attempts"][0]["status_code"] is None


# A request the worker gave up on still holds the receiver's thread, so a timeout on a slow machine would
# count one more in flight than the worker has: this test leaves ample time.
@pytest.mark.parametrize("webhook_timeout", [10.0])
async def test_a_slow_endpoint_delays_only_itself(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    agent = await new_agent(client)
    with receiver(delay=0.5) as slow, receiver() as fast:
        await register(client, agent, slow.url)
        await register(client, agent, fast.url)
        for n in range(6):
            await mail(smtp_port, agent, f"m{n}")

        working = asyncio.create_task(runtime.services.webhook_worker.run(poll_seconds=60))
        try:
            await _until(lambda: len(fast.requests) == 6, seconds=2)
            slow_when_fast_done = len(slow.requests)
            await _until(lambda: len(slow.requests) == 6, seconds=8)
        finally:
            working.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await working

    # The slow endpoint takes two at a time, 0.5 s each: the fast one got all six before its third pair
    # (a slow machine may let the second pair start first).
    assert slow_when_fast_done <= 4
    assert slow.most_in_flight == 2  # WEBHOOK_ENDPOINT_CONCURRENCY


async def test_q_sends_only_matching_messages_and_marks_the_others_skipped(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    agent = await new_agent(client)
    with receiver() as hook:
        created = await register(client, agent, hook.url, q="subject:invoice", events=["message.received"])
        await mail(smtp_port, agent, "Hello there")
        await mail(smtp_port, agent, "Invoice 42")
        await run_worker(runtime)

        [payload] = hook.payloads(created["secret"])
    assert payload["data"]["subject"] == "Invoice 42"
    assert [d["status"] for d in await deliveries(client, agent, created["id"])] == ["succeeded", "skipped"]


async def test_a_test_event_and_a_retry_by_hand(client: httpx.AsyncClient, runtime: Runtime) -> None:
    agent = await new_agent(client)
    with receiver([500, 200]) as hook:
        created = await register(client, agent, hook.url)
        queued = await client.post(f"/v1/webhooks/{created['id']}/test", headers=agent.headers)
        await run_worker(runtime)
        retried = await client.post(
            f"/v1/webhooks/{created['id']}/deliveries/{queued.json()['id']}/retry", headers=agent.headers
        )
        await run_worker(runtime)

        payloads = hook.payloads(created["secret"])
    assert queued.status_code == retried.status_code == 202
    assert queued.json()["type"] == "webhook.test" and queued.json()["status"] == "pending"
    assert [p["type"] for p in payloads] == ["webhook.test", "webhook.test"]
    assert hook.requests[0].headers["webhook-id"] == hook.requests[1].headers["webhook-id"]
    [delivery] = await deliveries(client, agent, created["id"])
    assert delivery["status"] == "succeeded" and len(delivery["attempts"]) == 2


async def test_endpoints_are_managed_with_the_mailbox_token(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    agent, other = await new_agent(client), await new_agent(client)
    created = [await register(client, agent, f"https://hooks.example.com/{n}") for n in range(5)]

    sixth = await client.post("/v1/webhooks", json={"url": "https://example.com/6"}, headers=agent.headers)
    listed = (await client.get("/v1/webhooks", headers=agent.headers)).json()["webhooks"]
    foreign = await client.get(f"/v1/webhooks/{created[0]['id']}", headers=other.headers)
    anonymous = await client.get("/v1/webhooks")
    deleted = await client.delete(f"/v1/webhooks/{created[0]['id']}", headers=agent.headers)
    again = await client.delete(f"/v1/webhooks/{created[0]['id']}", headers=agent.headers)

    assert (sixth.status_code, sixth.json()["code"]) == (409, "webhook_limit_reached")
    assert sorted(w["id"] for w in listed) == sorted(c["id"] for c in created)
    assert (foreign.status_code, anonymous.status_code) == (404, 401)
    assert (deleted.status_code, again.status_code) == (204, 404)


async def test_registrations_at_the_same_instant_keep_to_the_limit(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    agent = await new_agent(client)

    answers = await asyncio.gather(
        *(
            client.post("/v1/webhooks", json={"url": f"https://hooks.example.com/{n}"}, headers=agent.headers)
            for n in range(8)
        )
    )

    assert sorted(a.status_code for a in answers) == [201] * 5 + [409] * 3
    listed = (await client.get("/v1/webhooks", headers=agent.headers)).json()["webhooks"]
    assert len(listed) == 5


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/x", "unsafe_webhook_url"),
        ("http://169.254.169.254/latest/meta-data", "unsafe_webhook_url"),
    ],
)
async def test_unsafe_urls_are_refused_at_registration_with_400(
    client: httpx.AsyncClient, runtime: Runtime, url: str, code: str
) -> None:
    """The answer over HTTP; every kind of unsafe URL is tried in tests/unit/test_webhook_service.py."""
    agent = await new_agent(client)
    response = await client.post("/v1/webhooks", json={"url": url}, headers=agent.headers)
    assert (response.status_code, response.json()["code"]) == (400, code)


async def test_bad_events_and_queries_are_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    agent = await new_agent(client)
    bad_event = await client.post(
        "/v1/webhooks", json={"url": "https://example.com/", "events": ["nope"]}, headers=agent.headers
    )
    bad_query = await client.post(
        "/v1/webhooks", json={"url": "https://example.com/", "q": "before:yesterday"}, headers=agent.headers
    )
    assert (bad_event.status_code, bad_query.status_code) == (400, 400)


async def test_an_endpoint_failing_for_days_is_turned_off_and_its_payer_told(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, clock: FixedClock
) -> None:
    agent = await new_agent(client)
    with receiver([500]) as hook:
        created = await register(client, agent, hook.url)
        await mail(smtp_port, agent, "first")
        await _exhaust_retries(client, runtime, agent, created["id"], clock)
        after_first = (await client.get(f"/v1/webhooks/{created['id']}", headers=agent.headers)).json()
        clock.set(clock.now() + timedelta(days=2))
        await mail(smtp_port, agent, "second")
        await _exhaust_retries(client, runtime, agent, created["id"], clock)

        sent = len(hook.requests)
        await mail(smtp_port, agent, "third")
        await run_worker(runtime)
        assert len(hook.requests) == sent  # a disabled endpoint gets nothing

    assert after_first["disabled_at"] is None  # failing for ~28 h only
    disabled = (await client.get(f"/v1/webhooks/{created['id']}", headers=agent.headers)).json()
    assert disabled["disabled_at"] is not None
    assert sent == 16  # two deliveries, eight attempts each
    [notice] = await outbox_rows(runtime, "webhook_disabled")
    assert notice["recipient"] == "billing@example.com"
    assert hook.url in notice["body_text"] and "HTTP 500" in notice["body_text"]
    test = await client.post(f"/v1/webhooks/{created['id']}/test", headers=agent.headers)
    assert (test.status_code, test.json()["code"]) == (409, "webhook_disabled")


async def test_an_endpoint_turned_off_is_enabled_again_and_receives_new_events(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, clock: FixedClock
) -> None:
    agent = await new_agent(client)
    with receiver([500] * 16 + [200]) as hook:
        created = await register(client, agent, hook.url)
        for subject in ("first", "second"):
            await mail(smtp_port, agent, subject)
            await _exhaust_retries(client, runtime, agent, created["id"], clock)
            clock.set(clock.now() + timedelta(days=2))
        path = f"/v1/webhooks/{created['id']}"
        assert (await client.get(path, headers=agent.headers)).json()["disabled_at"] is not None

        enabled = await client.post(f"{path}/enable", headers=agent.headers)
        again = await client.post(f"{path}/enable", headers=agent.headers)
        await mail(smtp_port, agent, "third")
        assert await run_worker(runtime) == 1

        [*_, payload] = hook.payloads(created["secret"])
    assert (enabled.status_code, enabled.json()["disabled_at"]) == (200, None)
    assert (again.status_code, again.json()["id"]) == (200, created["id"])
    assert payload["data"]["subject"] == "third"
    other = await new_agent(client)
    foreign = await client.post(f"{path}/enable", headers=other.headers)
    assert foreign.status_code == 404


async def test_two_nodes_never_send_one_delivery_twice(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, smtp_port: int, clock: FixedClock
) -> None:
    other_node = await build_runtime(settings, clock)
    try:
        agent = await new_agent(client)
        with receiver(delay=0.02) as hook:
            await register(client, agent, hook.url)
            for n in range(20):
                await mail(smtp_port, agent, f"m{n}")

            await asyncio.gather(run_worker(runtime), run_worker(other_node), run_worker(runtime))

            ids = [r.headers["webhook-id"] for r in hook.requests]
    finally:
        await other_node.close()
    assert len(ids) == len(set(ids)) == 20


async def _exhaust_retries(
    client: httpx.AsyncClient, runtime: Runtime, agent: Agent, webhook_id: str, clock: FixedClock
) -> None:
    await run_worker(runtime)
    while True:
        [latest, *_] = await deliveries(client, agent, webhook_id)
        if latest["status"] != "pending":
            return
        clock.set(datetime.fromisoformat(latest["next_attempt_at"]) + timedelta(seconds=1))
        await run_worker(runtime)


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 -- the receivers answer in their own threads
            await asyncio.sleep(0.01)


def _after(moment: str, start: datetime) -> timedelta:
    return datetime.fromisoformat(moment) - start


def _around(wait: timedelta) -> range:
    low, high = wait * 0.9, wait * 1.1
    return range(int(low.total_seconds() * 1000), int(high.total_seconds() * 1000) + 1)


def _ms(wait: timedelta) -> int:
    return int(wait.total_seconds() * 1000)


async def test_a_webhook_deleted_while_its_post_is_in_flight_spoils_no_other_outcome(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    agent = await new_agent(client)
    with receiver(delay=0.5) as slow, receiver() as fast:
        doomed = await register(client, agent, slow.url)
        kept = await register(client, agent, fast.url)
        await mail(smtp_port, agent)
        worker = runtime.services.webhook_worker

        await worker.drain_once()
        await _until(lambda: len(slow.requests) == 1, seconds=2)
        deleted = await client.delete(f"/v1/webhooks/{doomed['id']}", headers=agent.headers)
        await worker.settle()

    assert deleted.status_code == 204
    [delivery] = await deliveries(client, agent, kept["id"])
    assert delivery["status"] == "succeeded"


async def test_the_webhook_queue_is_counted_with_the_store(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int
) -> None:
    agent = await new_agent(client)
    with receiver() as hook:
        await register(client, agent, hook.url)
        await mail(smtp_port, agent)
        waiting = (await runtime.services.admin.counts())["webhook_deliveries"]

        await run_worker(runtime)
        sent = (await runtime.services.admin.counts())["webhook_deliveries"]
        scraped, _ = await runtime.services.admin.scrape("text/plain")

    assert waiting == {"pending": 1} and sent == {"succeeded": 1}
    assert b'mailservice_store_rows{status="succeeded",table="webhook_deliveries"} 1.0' in scraped
