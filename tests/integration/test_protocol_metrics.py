"""Prometheus series move with real SMTP, IMAP and POP3 traffic; /admin/metrics shows the login counts."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from tests.conftest import make_settings
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import access_listeners, mail_listeners, send, text_message

ADMIN_KEY = "admin-key-for-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
Labels = tuple[tuple[str, str], ...]


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(database_dsn, tmp_path, admin_api_key=ADMIN_KEY)


@dataclass(frozen=True)
class Ports:
    smtp: int
    imap: int
    pop3: int


@pytest.fixture
async def ports(runtime: Runtime) -> AsyncIterator[Ports]:
    async with mail_listeners(runtime) as (smtp, _lmtp), access_listeners(runtime) as (imap, pop3):
        yield Ports(smtp, imap, pop3)


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, Labels], float]:
    response = await client.get("/metrics", headers=ADMIN)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(series: dict[tuple[str, Labels], float], name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def imap_session(port: int, username: str, password: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    client.login(username, password)
    client.select("INBOX")
    client.uid("FETCH", "1:*", "(FLAGS)")
    return client


def imap_wrong_password(port: int, username: str) -> None:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    with pytest.raises(imaplib.IMAP4.error):
        client.login(username, "not-the-password")
    client.logout()


def pop3_session(port: int, username: str, password: str) -> int:
    client = poplib.POP3("127.0.0.1", port, timeout=20)
    client.user(username)
    client.pass_(password)
    count, _size = client.stat()
    client.quit()
    return int(count)


async def test_mail_traffic_moves_the_protocol_series(
    client: httpx.AsyncClient, runtime: Runtime, ports: Ports
) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    address, username, password = details["email"], details["username"], details["password"]
    message = text_message(address, subject="Counted")
    before = await scrape(client)

    await send(ports.smtp, message, [address])
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send(ports.smtp, message, [f"nobody@{address.split('@')[1]}"])
    imap = await asyncio.to_thread(imap_session, ports.imap, username, password)
    during = await scrape(client)
    await asyncio.to_thread(imap.logout)
    await asyncio.to_thread(imap_wrong_password, ports.imap, username)
    assert await asyncio.to_thread(pop3_session, ports.pop3, username, password) == 1
    after = await scrape(client)
    summary = (await client.get("/admin/metrics", headers=ADMIN)).json()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("mailservice_smtp_sessions_total", protocol="smtp") == 2
    assert moved("mailservice_smtp_accepted_total", protocol="smtp") == 1
    assert moved("mailservice_smtp_refused_total", protocol="smtp", code="550") == 1
    assert moved("mailservice_smtp_received_bytes_total", protocol="smtp") == len(
        message.replace(b"\n", b"\r\n")
    )
    assert moved("mailservice_smtp_time_to_accept_seconds_count", protocol="smtp") == 1
    assert value(during, "mailservice_mail_connections", protocol="imap") == 1
    assert value(after, "mailservice_mail_connections", protocol="imap") == 0
    assert moved("mailservice_mail_logins_total", protocol="imap", result="ok") == 1
    assert moved("mailservice_mail_logins_total", protocol="imap", result="failed") == 1
    assert moved("mailservice_mail_logins_total", protocol="pop3", result="ok") == 1
    assert moved("mailservice_mail_command_duration_seconds_count", protocol="imap", command="UID FETCH") == 1
    assert moved("mailservice_mail_command_duration_seconds_count", protocol="pop3", command="STAT") == 1
    assert value(after, "mailservice_outbox_depth") >= 0
    assert ("mailservice_outbox_oldest_age_seconds", ()) in after
    assert ("mailservice_event_bus_reconnects_total", ()) in after
    assert summary["imap"]["logins"] == {"total": 2, "ok": 1, "failed": 1}
    assert summary["pop3"]["logins"] == {"total": 1, "ok": 1, "failed": 0}
    assert summary["smtp"]["accepted"] == 1


async def test_pending_notifications_show_as_outbox_depth_and_age(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await claim_and_pay(client, AgentKey.generate())  # queues the payment link e-mail; nothing sends it

    series = await scrape(client)

    assert value(series, "mailservice_outbox_depth") == 1
    assert value(series, "mailservice_outbox_oldest_age_seconds") >= 0
    assert value(series, "mailservice_store_rows", table="mailboxes", status="active") == 1
