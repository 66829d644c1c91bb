"""DKIM signatures over the test DNS server: how many are checked, and keys that are missing."""

from __future__ import annotations

from mailservice.adapters.senderauth.authenticator import DnsSenderAuthenticator
from mailservice.adapters.senderauth.dkim_check import MAX_SIGNATURES
from mailservice.adapters.senderauth.resolver import AsyncDns, DnsSettings
from mailservice.domain.sender_auth import SmtpSender
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import Zone, dns_server

RAW = b"From: a@example.com\r\nTo: b@agents.test\r\nSubject: s\r\n\r\nbody\r\n"
SENDER = SmtpSender("127.0.0.9", "mx.elsewhere.example", "bounce@elsewhere.example")


async def test_at_most_ten_signatures_are_checked() -> None:
    keys = [DkimKey.rsa(f"k{index}") for index in range(MAX_SIGNATURES + 2)]
    zone = Zone()
    signed = RAW
    for key in keys:
        zone.add_txt(key.dns_name("example.com"), key.dns_record)
        signed = key.sign(signed, "example.com")

    async with dns_server(zone) as address:
        checker = DnsSenderAuthenticator(AsyncDns(DnsSettings((address,), 2.0, 100)), 5.0)
        verdict = await checker.authenticate(signed, SENDER)
        checker.close()

    assert [s.selector for s in verdict.dkim] == [f"k{index}" for index in range(MAX_SIGNATURES + 1, 1, -1)]
    assert {s.result for s in verdict.dkim} == {"pass"}
    assert not any(name.startswith(("k0.", "k1.")) for name, _ in zone.queries)


async def test_signature_whose_key_is_not_published_is_permerror() -> None:
    key = DkimKey.ed25519("gone")

    async with dns_server(Zone()) as address:
        checker = DnsSenderAuthenticator(AsyncDns(DnsSettings((address,), 2.0, 100)), 5.0)
        verdict = await checker.authenticate(key.sign(RAW, "example.com"), SENDER)
        checker.close()

    assert [(s.selector, s.algorithm, s.result) for s in verdict.dkim] == [
        ("gone", "ed25519-sha256", "permerror")
    ]
