"""What the authentication checks keep between messages: DNS answers for their TTL (negative ones too),
SPF results as long as the answers behind them, parsed DKIM keys by record, and never a failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from mailservice.adapters.senderauth.authenticator import DnsSenderAuthenticator
from mailservice.adapters.senderauth.dns_cache import DnsAnswerCache
from mailservice.adapters.senderauth.known_answers import DnsTemporaryError
from mailservice.adapters.senderauth.resolver import AsyncDns, DnsSettings
from mailservice.domain.sender_auth import SenderAuth, SmtpSender
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import Zone, dns_server

DOMAIN = "sender.example"
SENDER = SmtpSender("127.0.0.7", "mx.sender.example", f"bounce@{DOMAIN}")
RAW = f"From: a@{DOMAIN}\r\nTo: b@agents.test\r\nSubject: code\r\n\r\nYour code is 123456\r\n".encode()
TTL = 300


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Checks:
    zone: Zone
    clock: Clock
    dns: AsyncDns
    authenticator: DnsSenderAuthenticator

    async def verdict(self, raw: bytes = RAW, sender: SmtpSender = SENDER) -> SenderAuth:
        return await self.authenticator.authenticate(raw, sender)

    def queries_of(self, name: str) -> int:
        return sum(1 for queried, _ in self.zone.queries if queried == name)


@asynccontextmanager
async def checks_with(dns_timeout_seconds: float) -> AsyncIterator[Checks]:
    zone = Zone(ttl=TTL, negative_ttl=60)
    zone.add_txt(DOMAIN, "v=spf1 ip4:127.0.0.7 -all")
    clock = Clock()
    async with dns_server(zone) as address:
        dns_ = AsyncDns(DnsSettings((address,), dns_timeout_seconds, 100), DnsAnswerCache(100, clock))
        authenticator = DnsSenderAuthenticator(dns_, timeout_seconds=5.0)
        yield Checks(zone, clock, dns_, authenticator)
        authenticator.close()


@pytest.fixture
async def checks() -> AsyncIterator[Checks]:
    """Room for a busy machine: an answer that comes is never taken for a timeout."""
    async with checks_with(dns_timeout_seconds=2.0) as made:
        yield made


@pytest.fixture
async def quick_checks() -> AsyncIterator[Checks]:
    """For tests where the server stays silent on purpose."""
    async with checks_with(dns_timeout_seconds=0.5) as made:
        yield made


async def test_an_answer_is_kept_for_its_ttl_and_asked_again_after(checks: Checks) -> None:
    first = await checks.dns.query(DOMAIN, "TXT")
    checks.zone.records.clear()
    checks.zone.add_txt(DOMAIN, "v=spf1 -all")

    checks.clock.now += TTL - 1
    still = await checks.dns.query(DOMAIN, "TXT")
    checks.clock.now += 1
    renewed = await checks.dns.query(DOMAIN, "TXT")

    assert first == still == [(b"v=spf1 ip4:127.0.0.7 -all",)]
    assert renewed == [(b"v=spf1 -all",)]
    assert checks.queries_of(DOMAIN) == 2


async def test_a_missing_name_is_kept_for_the_negative_ttl_of_its_soa(checks: Checks) -> None:
    missing = f"nothing.{DOMAIN}"
    assert await checks.dns.query(missing, "TXT") == []
    checks.zone.add_txt(missing, "v=spf1 -all")

    checks.clock.now += 59
    assert await checks.dns.query(missing, "TXT") == []
    checks.clock.now += 1
    assert await checks.dns.query(missing, "TXT") == [(b"v=spf1 -all",)]
    assert checks.queries_of(missing) == 2


async def test_a_name_without_records_of_the_type_is_kept_as_empty(checks: Checks) -> None:
    assert await checks.dns.query(DOMAIN, "MX") == []
    assert await checks.dns.query(DOMAIN, "MX") == []

    assert checks.zone.queries.count((DOMAIN, "MX")) == 1


async def test_a_timeout_is_never_kept(quick_checks: Checks) -> None:
    quick_checks.zone.silent.add(DOMAIN)
    with pytest.raises(DnsTemporaryError):
        await quick_checks.dns.query(DOMAIN, "TXT")
    quick_checks.zone.silent.clear()

    assert await quick_checks.dns.query(DOMAIN, "TXT") == [(b"v=spf1 ip4:127.0.0.7 -all",)]


async def test_an_spf_result_is_reused_until_its_records_expire(checks: Checks) -> None:
    first = await checks.verdict()
    asked = checks.queries_of(DOMAIN)
    checks.zone.records.clear()
    checks.zone.add_txt(DOMAIN, "v=spf1 -all")

    checks.clock.now += TTL - 1
    reused = await checks.verdict()
    asked_while_kept = checks.queries_of(DOMAIN) - asked
    checks.clock.now += 1
    renewed = await checks.verdict()

    assert (first.spf.result, reused.spf.result, renewed.spf.result) == ("pass", "pass", "fail")
    assert asked_while_kept == 0


async def test_an_spf_result_is_kept_per_client_address(checks: Checks) -> None:
    assert (await checks.verdict()).spf.result == "pass"

    other_client = SmtpSender("127.0.0.8", SENDER.helo, SENDER.mail_from)
    assert (await checks.verdict(sender=other_client)).spf.result == "fail"


async def test_spf_temperror_on_timeout_is_not_kept_and_never_becomes_a_pass(quick_checks: Checks) -> None:
    quick_checks.zone.silent.add(DOMAIN)
    timed_out = await quick_checks.verdict()
    quick_checks.zone.silent.clear()
    answered = await quick_checks.verdict()

    assert timed_out.spf.result == "temperror"
    assert timed_out.verified_domain is None
    assert answered.spf.result == "pass"
    assert answered.verified_domain == DOMAIN


async def test_a_new_key_under_the_same_selector_is_used_once_the_old_record_expires(checks: Checks) -> None:
    old, new = DkimKey.rsa("sel"), DkimKey.rsa("sel")
    checks.zone.add_txt(old.dns_name(DOMAIN), old.dns_record)
    assert [s.result for s in (await checks.verdict(old.sign(RAW, DOMAIN))).dkim] == ["pass"]

    checks.zone.records[(old.dns_name(DOMAIN), "TXT")] = []
    checks.zone.add_txt(new.dns_name(DOMAIN), new.dns_record)
    checks.clock.now += TTL

    assert [s.result for s in (await checks.verdict(new.sign(RAW, DOMAIN))).dkim] == ["pass"]
    assert [s.result for s in (await checks.verdict(old.sign(RAW, DOMAIN))).dkim] == ["fail"]


async def test_a_sender_seen_before_whose_include_expired_is_still_checked_right(checks: Checks) -> None:
    include = f"_spf.{DOMAIN}"
    checks.zone.records.clear()
    checks.zone.add_txt(DOMAIN, f"v=spf1 include:{include} -all")
    checks.zone.add_txt(include, "v=spf1 ip4:127.0.0.7 -all")
    checks.zone.ttls[include] = 60
    checks.zone.negative_ttl = 3600
    assert (await checks.verdict()).spf.result == "pass"

    checks.clock.now += 60  # the include is gone from the cache, the records looked up first are not
    other_sender = SmtpSender(SENDER.ip, SENDER.helo, f"another@{DOMAIN}")
    verdict = await checks.verdict(sender=other_sender)

    assert verdict.spf.result == "pass"
    assert checks.queries_of(include) == 2
    assert checks.queries_of(DOMAIN) == 1
