"""Sender authentication at delivery, against a real DNS server on loopback and real DKIM signatures.

Messages go over real SMTP (from 127.0.0.1 or 127.0.0.2, with a chosen HELO) and are read back through
the HTTP API, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from tests.conftest import MAIL_DOMAIN, make_settings
from tests.support.agent import claim_and_pay
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import Zone, dns_server
from tests.support.keys import AgentKey
from tests.support.mail import lmtp_dialogue, mail_listeners

SHOP = "shop.example.com"
LIST = "lists.example.net"
RSA = DkimKey.rsa("rsa2026")
ED25519 = DkimKey.ed25519("ed2026")


@pytest.fixture
def zone() -> Zone:
    zone = Zone()
    zone.add_txt(SHOP, "v=spf1 ip4:127.0.0.1 -all")
    zone.add_txt(f"_dmarc.{SHOP}", "v=DMARC1; p=reject; adkim=r; aspf=r")
    zone.add_txt(RSA.dns_name(SHOP), RSA.dns_record)
    zone.add_txt(ED25519.dns_name(SHOP), ED25519.dns_record)
    zone.add_txt("github.com", "v=spf1 ip4:192.0.2.0/24 -all")
    zone.add_txt("_dmarc.github.com", "v=DMARC1; p=reject")
    zone.add_txt("nodmarc.example.org", "v=spf1 ip4:127.0.0.1 -all")
    zone.add_txt(RSA.dns_name(LIST), RSA.dns_record)
    return zone


@pytest.fixture
async def nameserver(zone: Zone) -> AsyncIterator[str]:
    async with dns_server(zone) as address:
        yield address


@pytest.fixture
def auth_timeout() -> float:
    return 5.0


@pytest.fixture(params=[0, 1], ids=["checks-in-place", "checks-in-worker"])
def parser_processes(request: pytest.FixtureRequest) -> int:
    """Without parser workers the checks run in threads of the serving process; with one, in it."""
    processes: int = request.param
    return processes


@pytest.fixture
def settings(
    database_dsn: str, tmp_path: Path, nameserver: str, auth_timeout: float, parser_processes: int
) -> Settings:
    return make_settings(
        database_dsn,
        tmp_path,
        sender_auth=True,
        dns_nameservers=nameserver,
        dns_timeout_seconds=10.0,
        sender_auth_timeout_seconds=auth_timeout,
        parser_processes=parser_processes,
    )


@pytest.fixture
async def ports(runtime: Runtime) -> AsyncIterator[tuple[int, int]]:
    async with mail_listeners(runtime) as listening:
        yield listening


@pytest.fixture
def smtp_port(ports: tuple[int, int]) -> int:
    return ports[0]


class Reader:
    def __init__(self, client: httpx.AsyncClient, details: dict[str, Any]) -> None:
        self.client = client
        self.address = str(details["email"])
        self.headers = {"Authorization": f"Bearer {details['access_token']}"}

    async def message(self, uid: int) -> dict[str, Any]:
        response = await self.client.get(f"/v1/messages/{uid}", headers=self.headers)
        assert response.status_code == 200, response.text
        message: dict[str, Any] = response.json()["message"]
        return message

    async def raw(self, uid: int) -> bytes:
        return (await self.client.get(f"/v1/messages/{uid}/raw", headers=self.headers)).content

    async def uids(self, q: str) -> list[int]:
        response = await self.client.get("/v1/messages", params={"q": q}, headers=self.headers)
        assert response.status_code == 200, response.text
        return sorted(m["uid"] for m in response.json()["messages"])


@pytest.fixture
async def reader(client: httpx.AsyncClient) -> Reader:
    return Reader(client, await claim_and_pay(client, AgentKey.generate()))


def message(to: str, sender: str, body: str = "Your code is 482913.\r\n", extra: str = "") -> bytes:
    return (
        f"{extra}From: {sender}\r\nTo: {to}\r\nSubject: Your code\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m-{time.monotonic_ns()}@example>\r\n\r\n{body}"
    ).encode()


async def deliver(
    port: int, raw: bytes, to: str, mail_from: str, helo: str, source_ip: str = "127.0.0.1"
) -> None:
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, local_hostname=helo, source_address=(source_ip, 0)
    ) as smtp:
        errors, reply = await smtp.sendmail(mail_from, [to], raw)
    assert errors == {}, errors
    assert reply.startswith("2.0.0"), reply


async def test_signed_and_aligned_message_is_verified(reader: Reader, smtp_port: int) -> None:
    raw = message(reader.address, f"Shop <noreply@{SHOP}>")
    signed = ED25519.sign(RSA.sign(raw, SHOP), SHOP)

    await deliver(smtp_port, signed, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}")

    stored = await reader.message(1)
    assert stored["verified_domain"] == SHOP
    assert stored["envelope_from"] == f"bounce@{SHOP}"
    assert stored["auth"] == {
        "spf": {"result": "pass", "domain": SHOP, "helo": f"mx.{SHOP}", "helo_result": "none"},
        "dkim": [
            {"domain": SHOP, "selector": "ed2026", "algorithm": "ed25519-sha256", "result": "pass"},
            {"domain": SHOP, "selector": "rsa2026", "algorithm": "rsa-sha256", "result": "pass"},
        ],
        "dmarc": {"result": "pass", "policy": "reject", "from_domain": SHOP},
        "arc": "none",
    }
    stored_raw = await reader.raw(1)
    assert stored_raw.startswith(f"Return-Path: <bounce@{SHOP}>\r\n".encode())
    assert (
        f"Authentication-Results: {MAIL_DOMAIN};\r\n\tspf=pass smtp.mailfrom={SHOP};".encode() in stored_raw
    )
    assert f"dmarc=pass (p=reject) header.from={SHOP}".encode() in stored_raw


async def test_forged_from_is_not_verified_and_fails_dmarc(reader: Reader, smtp_port: int) -> None:
    raw = message(reader.address, "GitHub <noreply@github.com>")

    await deliver(smtp_port, raw, reader.address, "x@evil.test", "evil.test")

    stored = await reader.message(1)
    assert stored["verified_domain"] is None
    assert stored["auth"]["dmarc"] == {"result": "fail", "policy": "reject", "from_domain": "github.com"}
    assert stored["auth"]["spf"] == {
        "result": "none",
        "domain": "evil.test",
        "helo": "evil.test",
        "helo_result": "none",
    }
    assert stored["auth"]["dkim"] == []
    assert [code["code"] for code in stored["codes"]] == ["482913"]


async def test_body_changed_after_signing_fails_dkim(reader: Reader, smtp_port: int) -> None:
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}"), SHOP)
    tampered = signed.replace(b"482913", b"111111")

    await deliver(smtp_port, tampered, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}", source_ip="127.0.0.2")

    stored = await reader.message(1)
    assert [s["result"] for s in stored["auth"]["dkim"]] == ["fail"]
    assert stored["auth"]["spf"]["result"] == "fail"
    assert stored["auth"]["dmarc"]["result"] == "fail"
    assert stored["verified_domain"] is None


async def test_aligned_spf_verifies_a_domain_without_dmarc(reader: Reader, smtp_port: int) -> None:
    raw = message(reader.address, "news@nodmarc.example.org")

    await deliver(smtp_port, raw, reader.address, "bounce@nodmarc.example.org", "mx.example.org")

    stored = await reader.message(1)
    assert stored["auth"]["dmarc"] == {"result": "none", "policy": None, "from_domain": "nodmarc.example.org"}
    assert stored["auth"]["spf"]["result"] == "pass"
    assert stored["verified_domain"] == "nodmarc.example.org"


async def test_results_claiming_our_authserv_id_are_removed_and_others_kept(
    reader: Reader, smtp_port: int
) -> None:
    forged = (
        f"Authentication-Results: {MAIL_DOMAIN.upper()}; dkim=pass\r\n header.d=github.com\r\n"
        "Authentication-Results: mx.elsewhere.example; spf=pass smtp.mailfrom=github.com\r\n"
    )
    raw = message(reader.address, "GitHub <noreply@github.com>", extra=forged)

    await deliver(smtp_port, raw, reader.address, "x@evil.test", "evil.test")

    stored_raw = await reader.raw(1)
    assert stored_raw.count(b"Authentication-Results: ") == 2
    assert b"header.d=github.com" not in stored_raw
    assert b"Authentication-Results: mx.elsewhere.example; spf=pass" in stored_raw
    assert f"Authentication-Results: {MAIL_DOMAIN};\r\n\tspf=none".encode() in stored_raw


async def test_verified_search_terms_match_only_authenticated_senders(reader: Reader, smtp_port: int) -> None:
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}"), SHOP)
    await deliver(smtp_port, signed, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}")
    await deliver(
        smtp_port, message(reader.address, "noreply@github.com"), reader.address, "x@evil.test", "evil.test"
    )

    assert await reader.uids("is:verified") == [1]
    assert await reader.uids("from-verified:example.com") == [1]
    assert await reader.uids(f"from-verified:{SHOP}") == [1]
    assert await reader.uids("from-verified:github.com") == []
    assert await reader.uids("from-verified:ample.com") == []
    assert await reader.uids("from:github") == [2]


@pytest.mark.parametrize("auth_timeout", [1.0])
async def test_dns_that_never_answers_is_temperror_within_the_bound(
    reader: Reader, smtp_port: int, zone: Zone
) -> None:
    zone.silent.update({SHOP, RSA.dns_name(SHOP), f"_dmarc.{SHOP}"})
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}"), SHOP)

    started = time.monotonic()
    await deliver(smtp_port, signed, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}")
    elapsed = time.monotonic() - started

    assert elapsed < 3.0
    stored = await reader.message(1)
    assert stored["auth"]["spf"]["result"] == "temperror"
    assert [s["result"] for s in stored["auth"]["dkim"]] == ["temperror"]
    assert stored["auth"]["dmarc"]["result"] == "temperror"
    assert stored["verified_domain"] is None


async def test_lmtp_checks_a_message_once_for_all_its_mailboxes(
    client: httpx.AsyncClient, ports: tuple[int, int], zone: Zone
) -> None:
    readers = [Reader(client, await claim_and_pay(client, AgentKey.generate())) for _ in range(2)]
    signed = RSA.sign(message(readers[0].address, f"noreply@{SHOP}"), SHOP)

    replies = await lmtp_dialogue(ports[1], f"bounce@{SHOP}", [r.address for r in readers], signed)

    assert [reply[:3] for reply in replies] == ["250", "250"]
    for reader in readers:
        assert (await reader.message(1))["verified_domain"] == SHOP
    assert zone.queries.count((RSA.dns_name(SHOP), "TXT")) == 1


async def test_wait_for_a_verified_sender_skips_a_forged_one(reader: Reader, smtp_port: int) -> None:
    waiting = asyncio.create_task(
        reader.client.get(
            "/v1/messages/wait",
            params={"timeout": 10, "after_uid": 0, "q": f"from-verified:{SHOP}"},
            headers=reader.headers,
        )
    )
    forged = message(reader.address, f"noreply@{SHOP}")
    await deliver(smtp_port, forged, reader.address, "x@evil.test", "evil.test")
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}"), SHOP)
    await deliver(smtp_port, signed, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}")

    answer = (await waiting).json()

    assert (answer["timed_out"], answer["message"]["uid"], answer["message"]["verified_domain"]) == (
        False,
        2,
        SHOP,
    )


async def test_arc_sealed_by_a_mailing_list_is_validated_and_a_broken_seal_is_not(
    reader: Reader, smtp_port: int
) -> None:
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}"), SHOP)
    forwarded = (
        f"Authentication-Results: {LIST}; dkim=pass header.d={SHOP}\r\n".encode()
        + signed
        + b"-- list footer\r\n"
    )
    sealed = RSA.arc_seal(forwarded, LIST, LIST)
    tampered = sealed.replace(b"list footer", b"changed footer")

    await deliver(smtp_port, sealed, reader.address, f"bounce@{LIST}", f"mx.{LIST}")
    await deliver(smtp_port, tampered, reader.address, f"bounce@{LIST}", f"mx.{LIST}")

    first, second = await reader.message(1), await reader.message(2)
    assert (first["auth"]["arc"], [s["result"] for s in first["auth"]["dkim"]]) == ("pass", ["fail"])
    assert first["verified_domain"] is None
    assert second["auth"]["arc"] == "fail"
    assert b"arc=pass" in await reader.raw(1)


async def test_header_dkimpy_cannot_read_is_delivered_with_dkim_permerror(
    reader: Reader, smtp_port: int
) -> None:
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}"), SHOP)
    broken = signed.replace(b"\r\nTo: ", b"\r\nnot a header line\r\nTo: ", 1)

    await deliver(smtp_port, broken, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}")

    stored = await reader.message(1)
    assert stored["auth"]["dkim"] == [
        {"domain": SHOP, "selector": "rsa2026", "algorithm": "rsa-sha256", "result": "permerror"}
    ]
    assert (stored["auth"]["dmarc"]["result"], stored["verified_domain"]) == ("pass", SHOP)


async def test_events_stream_only_verified_senders_when_asked(
    reader: Reader, smtp_port: int, live: httpx.AsyncClient
) -> None:
    await deliver(
        smtp_port, message(reader.address, f"noreply@{SHOP}"), reader.address, "x@evil.test", "evil.test"
    )
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}"), SHOP)
    await deliver(smtp_port, signed, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}")
    query: dict[str, str | int] = {"after": 0, "q": f"from-verified:{SHOP}"}
    headers = {**reader.headers, "Accept": "text/event-stream"}

    async with live.stream("GET", "/v1/events", params=query, headers=headers) as stream:
        lines = stream.aiter_lines()
        while not (line := await anext(lines)).startswith("data: "):
            pass

    assert json.loads(line.removeprefix("data: "))["data"]["uid"] == 2


async def test_large_signed_message_is_checked_too(reader: Reader, smtp_port: int) -> None:
    body = "A long statement line, repeated to make the message larger than one mebibyte.\r\n" * 16_000
    signed = RSA.sign(message(reader.address, f"noreply@{SHOP}", body=body), SHOP)
    assert len(signed) > 1024 * 1024

    await deliver(smtp_port, signed, reader.address, f"bounce@{SHOP}", f"mx.{SHOP}")

    stored = await reader.message(1)
    assert [s["result"] for s in stored["auth"]["dkim"]] == ["pass"]
    assert stored["verified_domain"] == SHOP


async def test_helo_name_is_checked_against_the_client_address(
    reader: Reader, smtp_port: int, zone: Zone
) -> None:
    zone.add_txt(f"mx.{SHOP}", "v=spf1 ip4:127.0.0.1 -all")

    await deliver(smtp_port, message(reader.address, f"noreply@{SHOP}"), reader.address, "", f"mx.{SHOP}")
    await deliver(
        smtp_port, message(reader.address, f"noreply@{SHOP}"), reader.address, "", f"mx.{SHOP}", "127.0.0.2"
    )

    first, second = (await reader.message(1))["auth"]["spf"], (await reader.message(2))["auth"]["spf"]
    assert (first["result"], first["domain"], first["helo_result"]) == ("pass", f"mx.{SHOP}", "pass")
    assert (second["result"], second["helo_result"]) == ("fail", "fail")
    assert (await reader.message(1))["envelope_from"] == ""
    assert (await reader.raw(1)).startswith(b"Return-Path: <>\r\n")
