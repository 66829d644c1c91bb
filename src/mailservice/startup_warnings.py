"""Settings meant for a local experiment that are dangerous on a reachable server, named at start-up.

They stay allowed in development (refused in production where that is decided elsewhere), but a service
started with them should say so loudly rather than look like any other start.
"""

from __future__ import annotations

import ipaddress

from mailservice.adapters.payments.selection import chosen_provider
from mailservice.config import Settings, parse_listen_address

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def insecure_settings(settings: Settings) -> list[str]:
    """One sentence per insecure setting: what it allows and how to turn it off."""
    warnings = []
    if settings.edproof_allow_unsigned:
        warnings.append(
            "EDPROOF_ALLOW_UNSIGNED=true: anyone who knows a public key gets its mailbox, without a "
            "signature; for local experiments only (unset it to require signed challenges)"
        )
    if settings.webhook_allow_private:
        warnings.append(
            "WEBHOOK_ALLOW_PRIVATE=true: any mailbox can make this server POST to loopback and private "
            "addresses (services on this host and its network); for development only (unset it)"
        )
    if chosen_provider(settings) == "mock" and not _loopback_only(settings.http_addr):
        warnings.append(
            f"mock payments on a non-loopback address (HTTP_ADDR={settings.http_addr}): anyone who can "
            "reach this port activates a mailbox by opening its payment link, for free; configure Polar or "
            "Stripe, or listen on 127.0.0.1 only"
        )
    return warnings


def _loopback_only(http_addr: str) -> bool:
    host = parse_listen_address(http_addr, "HTTP_ADDR")[0]
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any address
