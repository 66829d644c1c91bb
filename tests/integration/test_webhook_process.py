"""Webhooks sent from a process of their own: woken after the commit (its own poll is an hour away here),
started again when it dies, stopped with the server, and waking the serving process's outbox when it
queued a notice."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from mailservice.adapters.db.tables import webhook_deliveries, webhook_endpoints
from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from mailservice.webhook_process import WebhookSenderProcess
from tests.support.mail import send, text_message
from tests.support.outbox import outbox_rows
from tests.support.webhooks import Agent, new_agent, receiver, register, webhook_settings

SPAWN_SECONDS = 30.0  # a new process imports the service; on a loaded machine that takes seconds
WOKEN_SECONDS = 5.0  # far less than its poll


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return webhook_settings(database_dsn, tmp_path, webhook_poll_seconds=3600, webhook_timeout_seconds=2)


@pytest.fixture
async def sender(runtime: Runtime, settings: Settings) -> AsyncIterator[WebhookSenderProcess]:
    process = WebhookSenderProcess(settings, runtime.services.outbox.wake)
    await process.start()
    assert runtime.publisher is not None
    runtime.publisher.wake_webhooks_with(process.wake)
    yield process
    await process.close()


async def mail(smtp_port: int, agent: Agent, subject: str) -> None:
    await send(smtp_port, text_message(agent.address, subject), [agent.address])


async def test_queued_deliveries_wake_the_sender_process_which_posts_them(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, sender: WebhookSenderProcess
) -> None:
    agent = await new_agent(client)
    with receiver() as hook:
        created = await register(client, agent, hook.url)
        await mail(smtp_port, agent, "first")
        await _until(lambda: len(hook.requests) == 1, SPAWN_SECONDS)  # the process is up and idle

        await mail(smtp_port, agent, "second")
        await _until(lambda: len(hook.requests) == 2, WOKEN_SECONDS)

        subjects = sorted(p["data"]["subject"] for p in hook.payloads(created["secret"]))
    assert subjects == ["first", "second"]
    assert sender.pid != os.getpid()


async def test_a_sender_process_that_dies_is_started_again(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, sender: WebhookSenderProcess
) -> None:
    agent = await new_agent(client)
    with receiver() as hook:
        await register(client, agent, hook.url)
        await mail(smtp_port, agent, "before")
        await _until(lambda: len(hook.requests) == 1, SPAWN_SECONDS)
        first = sender.pid
        assert first is not None

        os.kill(first, signal.SIGKILL)
        await _until(lambda: sender.pid != first, SPAWN_SECONDS)
        await mail(smtp_port, agent, "after")
        await _until(lambda: len(hook.requests) == 2, SPAWN_SECONDS)

    assert len({r.headers["webhook-id"] for r in hook.requests}) == 2


async def test_a_notice_queued_by_the_sender_process_wakes_the_outbox_of_the_serving_process(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, smtp_port: int
) -> None:
    agent = await new_agent(client)
    with receiver([500]) as hook:
        created = await register(client, agent, hook.url)
        await mail(smtp_port, agent, "last try")
        async with runtime.engine.begin() as connection:  # its last attempt, after failing since January
            await connection.execute(update(webhook_deliveries).values(attempts=7))
            await connection.execute(
                update(webhook_endpoints).values(failing_since=datetime(2026, 1, 1, tzinfo=UTC))
            )
        outbox_woken = asyncio.Event()
        process = WebhookSenderProcess(settings, outbox_woken.set)

        await process.start()
        try:
            async with asyncio.timeout(SPAWN_SECONDS):
                await outbox_woken.wait()
        finally:
            await process.close()

    [notice] = await outbox_rows(runtime, "webhook_disabled")
    assert created["url"] in notice["body_text"] and len(hook.requests) == 1


async def test_closing_stops_the_sender_process(runtime: Runtime, settings: Settings) -> None:
    process = WebhookSenderProcess(settings, runtime.services.outbox.wake)
    await process.start()
    pid = process.pid
    assert pid is not None

    await process.close()

    assert not _alive(pid)


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 -- the receiver and the sender are other threads and processes
            await asyncio.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
