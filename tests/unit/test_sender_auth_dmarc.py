"""DMARC policy discovery and alignment, over the test DNS server and real DKIM signatures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mailservice.adapters.senderauth.authenticator import DnsSenderAuthenticator
from mailservice.adapters.senderauth.dmarc_check import organizational_domain
from mailservice.adapters.senderauth.resolver import AsyncDns, DnsSettings
from mailservice.domain.sender_auth import SenderAuth, SmtpSender
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import Zone, dns_server

KEY = DkimKey.rsa("k1")
FROM_ELSEWHERE = SmtpSender("127.0.0.9", "mx.elsewhere.example", "bounce@elsewhere.example")


@pytest.mark.parametrize(
    ("domain", "organizational"),
    [
        ("example.com", "example.com"),
        ("a.b.Example.COM.", "example.com"),
        ("mail.example.co.uk", "example.co.uk"),
        ("mail.github.test", "github.test"),
    ],
)
def test_organizational_domain(domain: str, organizational: str) -> None:
    assert organizational_domain(domain) == organizational


@pytest.fixture
def zone() -> Zone:
    zone = Zone()
    zone.add_txt(KEY.dns_name("example.com"), KEY.dns_record)
    zone.add_txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine")
    zone.add_txt(KEY.dns_name("strict.example.net"), KEY.dns_record)
    zone.add_txt("_dmarc.mail.strict.example.net", "v=DMARC1; p=reject; adkim=s")
    zone.add_txt("_dmarc.twice.example.org", "v=DMARC1; p=reject")
    zone.add_txt("_dmarc.twice.example.org", "v = DMARC1 ; p=none")
    zone.add_txt("_dmarc.twice.example.org", "v=spf1 not a dmarc record")
    zone.add_txt(KEY.dns_name("twice.example.org"), KEY.dns_record)
    return zone


@pytest.fixture
async def authenticator(zone: Zone) -> AsyncIterator[DnsSenderAuthenticator]:
    async with dns_server(zone) as address:
        checker = DnsSenderAuthenticator(AsyncDns(DnsSettings((address,), 2.0, 100)), 5.0)
        yield checker
        checker.close()


async def verdict(authenticator: DnsSenderAuthenticator, from_: str, signer: str) -> SenderAuth:
    raw = f"From: {from_}\r\nTo: a@agents.test\r\nSubject: s\r\n\r\nbody\r\n".encode()
    return await authenticator.authenticate(KEY.sign(raw, signer), FROM_ELSEWHERE)


async def test_subdomain_takes_the_organizational_record_and_its_sp(
    authenticator: DnsSenderAuthenticator,
) -> None:
    result = await verdict(authenticator, "news@news.example.com", "example.com")

    assert (result.dmarc.result, result.dmarc.policy, result.verified_domain) == (
        "pass",
        "quarantine",
        "news.example.com",
    )


async def test_strict_dkim_alignment_needs_the_exact_domain(authenticator: DnsSenderAuthenticator) -> None:
    result = await verdict(authenticator, "a@mail.strict.example.net", "strict.example.net")

    assert [s.result for s in result.dkim] == ["pass"]
    assert (result.dmarc.result, result.dmarc.policy, result.verified_domain) == ("fail", "reject", None)


async def test_two_dmarc_records_count_as_none(authenticator: DnsSenderAuthenticator) -> None:
    result = await verdict(authenticator, "a@twice.example.org", "twice.example.org")

    assert (result.dmarc.result, result.dmarc.policy) == ("none", None)
    assert result.verified_domain == "twice.example.org"  # aligned DKIM pass and no usable record


async def test_authors_of_two_domains_are_never_verified(authenticator: DnsSenderAuthenticator) -> None:
    result = await verdict(authenticator, "a@example.com, b@elsewhere.example", "example.com")

    assert (result.dmarc.result, result.verified_domain) == ("permerror", None)


async def test_unaligned_signature_does_not_verify(authenticator: DnsSenderAuthenticator) -> None:
    result = await verdict(authenticator, "a@twice.example.org", "example.com")

    assert [s.result for s in result.dkim] == ["pass"]
    assert result.verified_domain is None
