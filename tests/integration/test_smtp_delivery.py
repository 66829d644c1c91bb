"""Inbound mail over real SMTP and LMTP sockets into the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from sqlalchemy import select, update

from mailservice.adapters.db.tables import mailboxes
from mailservice.bootstrap import Runtime, check_settings
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import ConfigurationError
from mailservice.domain.messages import MessageReceived
from mailservice.services.delivery import RECIPIENT_CACHE_TTL
from tests.conftest import make_settings
from tests.support.agent import claim
from tests.support.keys import AgentKey
from tests.support.mail import (
    PaidMailbox,
    lmtp_dialogue,
    mail_listeners,
    paid_mailbox,
    send,
    stored_messages,
    text_message,
    used_bytes,
)
from tests.support.tls import self_signed

QUOTA = 20_000
MAX_MESSAGE = 64 * 1024


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    overrides = dict(settings_overrides)
    if overrides.pop("tls", False):
        overrides["tls_cert_file"], overrides["tls_key_file"] = self_signed(tmp_path)
    return make_settings(
        database_dsn,
        tmp_path,
        mailbox_quota_bytes=QUOTA,
        max_message_bytes=MAX_MESSAGE,
        mail_aliases="alias.test",
        **overrides,
    )


@pytest.fixture
async def ports(runtime: Runtime) -> AsyncIterator[tuple[int, int]]:
    async with mail_listeners(runtime) as listening:
        yield listening


@pytest.fixture
def smtp_port(ports: tuple[int, int]) -> int:
    return ports[0]


@pytest.fixture
async def mailbox(client: httpx.AsyncClient) -> PaidMailbox:
    return await paid_mailbox(client)


async def refused(port: int, recipient: str, raw: bytes | None = None) -> aiosmtplib.SMTPRecipientRefused:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refusal:
        await send(port, raw or text_message(recipient), [recipient])
    response = refusal.value.recipients[0]
    return response


async def test_delivered_message_is_stored_with_trace_headers_and_its_size(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox
) -> None:
    raw = text_message(mailbox.address, subject="Your code", body="Use 123456 to sign in.\n")

    errors, reply = await send(smtp_port, raw, [mailbox.address])

    assert errors == {}
    assert reply.startswith("2.0.0 Ok: stored as")
    [stored] = await stored_messages(runtime, mailbox.id)
    assert stored["uid"] == 1
    assert stored["raw"].startswith(
        f"Return-Path: <a@example.org>\r\nDelivered-To: {mailbox.address}\r\nReceived: from ".encode()
    )
    assert stored["raw"].endswith(raw.replace(b"\n", b"\r\n"))
    assert stored["size"] == len(stored["raw"])
    assert stored["subject"] == "Your code"
    assert stored["from_address"] == "a@example.org"
    assert "123456" in stored["text"]
    assert stored["envelope"].startswith("(")
    assert stored["bodystructure"].startswith('("text" "plain"') or stored["bodystructure"].startswith("(")
    assert await used_bytes(runtime, mailbox.id) == stored["size"]


async def test_uids_increase_per_delivery(runtime: Runtime, smtp_port: int, mailbox: PaidMailbox) -> None:
    for index in range(3):
        await send(smtp_port, text_message(mailbox.address, subject=f"m{index}"), [mailbox.address])

    assert [m["uid"] for m in await stored_messages(runtime, mailbox.id)] == [1, 2, 3]


async def test_plus_tag_is_stripped_and_kept_and_case_is_ignored(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox
) -> None:
    login, domain = mailbox.address.split("@")
    tagged = f"{login.upper()}+Newsletter@{domain.upper()}"

    await send(smtp_port, text_message(tagged), [tagged])

    [stored] = await stored_messages(runtime, mailbox.id)
    assert stored["tags"] == ["newsletter"]


async def test_alias_domain_is_local(runtime: Runtime, smtp_port: int, mailbox: PaidMailbox) -> None:
    aliased = f"{mailbox.login}@alias.test"

    await send(smtp_port, text_message(aliased), [aliased])

    assert len(await stored_messages(runtime, mailbox.id)) == 1


async def test_unknown_recipient_is_550_5_1_1(smtp_port: int, mailbox: PaidMailbox) -> None:
    response = await refused(smtp_port, "mbx_00000000000@agents.test")

    assert (response.code, response.message[:5]) == (550, "5.1.1")


async def test_unpaid_mailbox_is_550_5_1_1(client: httpx.AsyncClient, smtp_port: int) -> None:
    address = (await claim(client, AgentKey.generate())).json()["email"]

    response = await refused(smtp_port, address)

    assert (response.code, response.message[:5]) == (550, "5.1.1")


async def test_foreign_domain_is_550_5_7_1_never_a_relay(smtp_port: int) -> None:
    response = await refused(smtp_port, "someone@example.com")

    assert (response.code, response.message[:5]) == (550, "5.7.1")


async def test_expired_mailbox_is_550_5_2_1(smtp_port: int, mailbox: PaidMailbox, clock: FixedClock) -> None:
    clock.advance(timedelta(days=40))

    response = await refused(smtp_port, mailbox.address)

    assert (response.code, response.message[:5]) == (550, "5.2.1")


async def test_mailbox_already_over_quota_is_452_4_2_2_at_rcpt(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox, clock: FixedClock
) -> None:
    await send(smtp_port, text_message(mailbox.address), [mailbox.address])
    async with runtime.engine.begin() as connection:
        await connection.execute(
            update(mailboxes).where(mailboxes.c.id == mailbox.id).values(quota_bytes=mailboxes.c.used_bytes)
        )
    clock.advance(RECIPIENT_CACHE_TTL)  # what RCPT remembers of a mailbox is at most this old

    response = await refused(smtp_port, mailbox.address)

    assert (response.code, response.message[:5]) == (452, "4.2.2")


async def test_message_larger_than_the_remaining_quota_is_452_at_data(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox
) -> None:
    fits = text_message(mailbox.address, body=("a" * 76 + "\n") * 150)
    await send(smtp_port, fits, [mailbox.address])
    used = await used_bytes(runtime, mailbox.id)

    with pytest.raises(aiosmtplib.SMTPDataError) as refusal:
        await send(smtp_port, text_message(mailbox.address, body=("b" * 76 + "\n") * 150), [mailbox.address])

    assert (refusal.value.code, refusal.value.message[:5]) == (452, "4.2.2")
    assert await used_bytes(runtime, mailbox.id) == used


async def test_quota_stays_exact_under_concurrent_deliveries(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox
) -> None:
    raw = text_message(mailbox.address, body=("c" * 76 + "\n") * 20)

    outcomes = await asyncio.gather(
        *(send(smtp_port, raw, [mailbox.address]) for _ in range(30)), return_exceptions=True
    )

    stored = await stored_messages(runtime, mailbox.id)
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(accepted) == len(stored)
    assert 0 < len(stored) < 30
    assert await used_bytes(runtime, mailbox.id) == sum(m["size"] for m in stored) <= QUOTA
    assert sorted(m["uid"] for m in stored) == list(range(1, len(stored) + 1))


async def test_message_over_the_size_limit_is_552(smtp_port: int, mailbox: PaidMailbox) -> None:
    raw = text_message(mailbox.address, body=("d" * 76 + "\n") * 1000)

    with pytest.raises(aiosmtplib.SMTPResponseException) as refusal:
        await send(smtp_port, raw, [mailbox.address])

    assert refusal.value.code == 552


async def test_multi_recipient_message_stores_one_copy_per_mailbox(
    client: httpx.AsyncClient, runtime: Runtime, smtp_port: int, mailbox: PaidMailbox
) -> None:
    other = await paid_mailbox(client)
    login, domain = mailbox.address.split("@")
    recipients = [mailbox.address, f"{login}+a@{domain}", other.address]

    await send(smtp_port, text_message(mailbox.address), recipients)

    [mine] = await stored_messages(runtime, mailbox.id)
    [theirs] = await stored_messages(runtime, other.id)
    assert mine["tags"] == ["a"]
    assert f"Delivered-To: {other.address}".encode() in theirs["raw"]
    async with runtime.engine.connect() as connection:  # each mailbox counts its own copy's bytes
        used = dict((await connection.execute(select(mailboxes.c.id, mailboxes.c.used_bytes))).all())
    assert (used[mailbox.id], used[other.id]) == (mine["size"], theirs["size"])


async def test_message_to_good_and_unknown_recipients_reaches_the_good_one(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox
) -> None:
    errors, _ = await send(
        smtp_port, text_message(mailbox.address), [mailbox.address, "mbx_00000000000@agents.test"]
    )

    assert list(errors) == ["mbx_00000000000@agents.test"]
    assert len(await stored_messages(runtime, mailbox.id)) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9 na\xefve\r\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nunterminated\r\n",
        b"garbage without headers \x00\xff\xfe\r\n",
        b"Subject: bare LF\nFrom: <>\n\nbody\n",
    ],
)
async def test_eight_bit_and_malformed_mime_is_stored_not_crashed_on(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox, raw: bytes
) -> None:
    await send(smtp_port, raw, [mailbox.address])

    [stored] = await stored_messages(runtime, mailbox.id)
    assert stored["raw"].endswith(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


async def test_lmtp_answers_once_per_recipient(
    runtime: Runtime, ports: tuple[int, int], mailbox: PaidMailbox, client: httpx.AsyncClient
) -> None:
    other = await paid_mailbox(client)

    replies = await lmtp_dialogue(
        ports[1], "a@example.org", [mailbox.address, other.address], text_message("x")
    )

    assert [reply[:3] for reply in replies] == ["250", "250"]
    assert len(await stored_messages(runtime, other.id)) == 1


async def test_lmtp_reports_a_full_mailbox_for_that_recipient_only(
    runtime: Runtime, ports: tuple[int, int], mailbox: PaidMailbox, client: httpx.AsyncClient
) -> None:
    other = await paid_mailbox(client)
    await send(ports[0], text_message(mailbox.address, body=("a" * 76 + "\n") * 150), [mailbox.address])
    raw = text_message("x", body=("b" * 76 + "\n") * 150)

    replies = await lmtp_dialogue(ports[1], "a@example.org", [mailbox.address, other.address], raw)

    assert [reply[:9] for reply in replies] == ["452 4.2.2", "250 2.0.0"]


async def test_delivery_publishes_message_received(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox
) -> None:
    subscription = runtime.services.events.subscribe(mailbox.id)

    await send(smtp_port, text_message(mailbox.address), [mailbox.address])

    event = await asyncio.wait_for(anext(subscription), timeout=5)
    subscription.close()
    assert isinstance(event, MessageReceived)
    assert (event.type, event.mailbox_id, event.uid) == ("message.received", mailbox.id, 1)


async def test_retention_purges_mail_but_keeps_the_address(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox, clock: FixedClock
) -> None:
    await send(smtp_port, text_message(mailbox.address), [mailbox.address])
    clock.advance(timedelta(days=40))
    await runtime.services.mailboxes.expire_lapsed()
    assert await runtime.services.mailboxes.purge_mail_of_expired(timedelta(days=30)) == 0

    clock.advance(timedelta(days=31))
    purged = await runtime.services.mailboxes.purge_mail_of_expired(timedelta(days=30))

    assert purged == 1
    assert await stored_messages(runtime, mailbox.id) == []
    assert await used_bytes(runtime, mailbox.id) == 0
    kept = await runtime.services.mailboxes.current(mailbox.id)
    assert kept is not None and kept.login == mailbox.login


@pytest.mark.parametrize("settings_overrides", [{"smtp_max_connections_per_ip": 2}])
async def test_connections_over_the_per_ip_limit_get_421(smtp_port: int, settings_overrides: Any) -> None:
    first, second = (
        aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port),
        aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port),
    )
    await first.connect()
    await second.connect()
    third = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port)

    with pytest.raises(aiosmtplib.SMTPConnectError) as refusal:
        await third.connect()

    assert "421" in str(refusal.value) or "Too many" in str(refusal.value)
    await first.quit()
    await second.quit()


async def test_bare_line_feeds_over_lmtp_are_stored_as_crlf(
    runtime: Runtime, ports: tuple[int, int], mailbox: PaidMailbox
) -> None:
    raw = b"Subject: bare\n\nline one\nline two\n"

    replies = await lmtp_dialogue_raw(ports[1], mailbox.address, raw)

    assert replies[0].startswith("250")
    [stored] = await stored_messages(runtime, mailbox.id)
    assert stored["raw"].endswith(b"Subject: bare\r\n\r\nline one\r\nline two\r\n")
    assert b"\n" not in stored["raw"].replace(b"\r\n", b"")


async def lmtp_dialogue_raw(port: int, address: str, raw: bytes) -> list[str]:
    return await lmtp_dialogue(port, "a@example.org", [address], raw, line_end=b"\n")


async def test_a_failing_event_bus_does_not_fail_a_stored_delivery(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_event: object) -> None:
        raise ConnectionError("event bus down")

    monkeypatch.setattr(runtime.services.events, "publish", broken)

    errors, _ = await send(smtp_port, text_message(mailbox.address), [mailbox.address])

    assert errors == {}
    assert len(await stored_messages(runtime, mailbox.id)) == 1


@pytest.mark.parametrize("settings_overrides", [{"smtp_max_recipients": 3}])
async def test_recipients_over_the_limit_get_452_4_5_3_and_the_others_get_the_message(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox, settings_overrides: Any
) -> None:
    login, domain = mailbox.address.split("@")
    recipients = [f"{login}+t{index}@{domain}" for index in range(4)]

    errors, reply = await send(smtp_port, text_message(mailbox.address), recipients)

    assert reply.startswith("2.0.0")
    assert {address: (r.code, r.message[:5]) for address, r in errors.items()} == {
        recipients[3]: (452, "4.5.3")
    }
    [stored] = await stored_messages(runtime, mailbox.id)
    assert stored["tags"] == ["t0", "t1", "t2"]


@pytest.mark.parametrize("settings_overrides", [{"smtp_max_refused_recipients": 3}])
async def test_a_connection_refused_too_many_recipients_is_closed_with_421(
    smtp_port: int, settings_overrides: Any
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp_port)
    await reader.readline()
    writer.write(b"HELO harvester.test\r\nMAIL FROM:<h@harvester.test>\r\n")
    writer.write(b"".join(b"RCPT TO:<mbx_%011d@agents.test>\r\n" % index for index in range(5)))
    await writer.drain()

    said = (await asyncio.wait_for(reader.read(), 10)).decode().splitlines()
    writer.close()

    assert [line[:3] for line in said] == ["250", "250", "550", "550", "421"]
    assert said[-1] == "421 4.7.0 Too many refused recipients, closing connection"


@pytest.mark.parametrize("settings_overrides", [{"tls": True}])
async def test_starttls_when_a_certificate_is_configured(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox, settings_overrides: Any
) -> None:
    raw = text_message(mailbox.address)

    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=smtp_port, start_tls=True, validate_certs=False
    ) as smtp:
        assert smtp.is_connected and smtp.get_transport_info("sslcontext") is not None
        await smtp.sendmail("a@example.org", [mailbox.address], raw)

    [stored] = await stored_messages(runtime, mailbox.id)
    assert b"with ESMTPS id" in stored["raw"]


@pytest.mark.parametrize("settings_overrides", [{"tls": True}])
async def test_no_smtp_auth_is_offered_after_starttls(
    runtime: Runtime, smtp_port: int, mailbox: PaidMailbox, settings_overrides: Any
) -> None:
    # receive-only: there is nothing to authenticate for, so AUTH must not be advertised
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=smtp_port,
        start_tls=True,
        validate_certs=False,
        local_hostname="client.example.org",
    ) as smtp:
        await smtp.ehlo()
        assert "starttls" not in smtp.esmtp_extensions and "size" in smtp.esmtp_extensions
        assert "auth" not in smtp.esmtp_extensions
        await smtp.sendmail("a@example.org", [mailbox.address], text_message(mailbox.address))

    [stored] = await stored_messages(runtime, mailbox.id)
    assert b"from client.example.org" in stored["raw"]


def test_half_configured_tls_refuses_to_start(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)

    with pytest.raises(ConfigurationError, match="TLS_CERT_FILE and TLS_KEY_FILE"):
        check_settings(make_settings("unused.db", tmp_path, tls_cert_file=cert))
