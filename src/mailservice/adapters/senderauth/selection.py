"""Sender authentication as configured: off, or checking over the configured DNS resolvers."""

from __future__ import annotations

from mailservice.adapters.senderauth.authenticator import CheckWorkers, DnsSenderAuthenticator
from mailservice.adapters.senderauth.resolver import AsyncDns, DnsSettings, parse_nameservers
from mailservice.config import Settings


def build_sender_authenticator(
    settings: Settings, workers: CheckWorkers | None = None
) -> DnsSenderAuthenticator | None:
    """The checks run in `workers` (the parser processes) when there are any, else in threads here."""
    if not settings.sender_auth:
        return None
    dns_settings = DnsSettings(
        nameservers=tuple(parse_nameservers(settings.dns_nameservers)),
        timeout_seconds=settings.dns_timeout_seconds,
        cache_size=settings.dns_cache_size,
    )
    return DnsSenderAuthenticator(AsyncDns(dns_settings), settings.sender_auth_timeout_seconds, workers)
