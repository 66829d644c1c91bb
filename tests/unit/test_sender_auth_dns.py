"""The resolver of the authentication checks: nameserver settings, and failing fast without a server."""

from __future__ import annotations

import time

import dns.nameserver
import pytest

from mailservice.adapters.senderauth.authenticator import DnsSenderAuthenticator
from mailservice.adapters.senderauth.resolver import AsyncDns, DnsSettings, _nameserver, parse_nameservers
from mailservice.config import Settings
from mailservice.domain.sender_auth import SmtpSender
from tests.support.ports import free_port


@pytest.mark.parametrize(
    ("entry", "address", "port"),
    [
        ("192.0.2.53", "192.0.2.53", 53),
        ("192.0.2.53:5353", "192.0.2.53", 5353),
        ("2001:db8::53", "2001:db8::53", 53),
        ("[2001:db8::53]:5353", "2001:db8::53", 5353),
    ],
)
def test_nameserver_entries(entry: str, address: str, port: int) -> None:
    server = _nameserver(entry)

    assert isinstance(server, dns.nameserver.Do53Nameserver)
    assert (server.address, server.port) == (address, port)


def test_nameservers_are_comma_separated() -> None:
    assert parse_nameservers(" 127.0.0.1:53, ,10.0.0.1 ") == ("127.0.0.1:53", "10.0.0.1")


async def test_no_server_listening_gives_temperror_quickly_never_pass() -> None:
    settings = DnsSettings((f"127.0.0.1:{free_port()}",), timeout_seconds=1.0, cache_size=10)
    authenticator = DnsSenderAuthenticator(AsyncDns(settings), timeout_seconds=5.0)
    raw = b"From: GitHub <noreply@github.com>\r\nSubject: code\r\n\r\n123456\r\n"

    started = time.monotonic()
    verdict = await authenticator.authenticate(raw, SmtpSender("127.0.0.1", "evil.test", "x@github.com"))
    elapsed = time.monotonic() - started

    assert (verdict.spf.result, verdict.dmarc.result, verdict.verified_domain) == (
        "temperror",
        "temperror",
        None,
    )
    assert elapsed < 1.9  # one query timeout, not one per lookup
    authenticator.close()


async def test_without_any_resolver_configuration_the_verdict_is_temperror_at_once() -> None:
    settings = DnsSettings((), timeout_seconds=2.0, cache_size=10, resolv_conf="/nonexistent/resolv.conf")
    authenticator = DnsSenderAuthenticator(AsyncDns(settings), timeout_seconds=5.0)
    raw = b"From: GitHub <noreply@github.com>\r\nSubject: code\r\n\r\n123456\r\n"

    started = time.monotonic()
    verdict = await authenticator.authenticate(raw, SmtpSender("127.0.0.1", "evil.test", "x@github.com"))

    assert (verdict.spf.result, verdict.dmarc.result, verdict.verified_domain) == (
        "temperror",
        "temperror",
        None,
    )
    assert time.monotonic() - started < 1.0
    authenticator.close()


@pytest.mark.parametrize(("value", "enabled"), [("on", True), ("off", False), ("true", True), ("0", False)])
def test_sender_auth_setting_takes_on_and_off(value: str, enabled: bool) -> None:
    assert Settings(_env_file=None, sender_auth=value).sender_auth is enabled
