"""SPF with pyspf (RFC 7208): the MAIL FROM identity, and the HELO identity, against the client's IP.

pyspf takes its DNS from the module-level function `spf.DNSLookup`; we install one that answers
through the resolver of the thread running the check, so concurrent checks each keep their own
deadline and nothing in pyspf opens a socket of its own.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

import spf

from mailservice.adapters.senderauth.resolver import DnsTemporaryError, ThreadDns
from mailservice.domain.sender_auth import NONE, SpfCheck

_current = threading.local()


def check_spf(dns_: ThreadDns, ip: str | None, mail_from: str, helo: str | None) -> SpfCheck:
    """SPF of MAIL FROM (of postmaster@HELO for the null sender), and of the HELO name on its own."""
    helo_name = (helo or "").strip().rstrip(".")
    mail_from_domain = spf_domain(mail_from, helo)
    helo_checked = helo_domain(helo)
    if ip is None:
        return SpfCheck(NONE, mail_from_domain, NONE, helo_checked)
    sender = mail_from if "@" in mail_from else f"postmaster@{helo_name}"
    _current.dns = dns_
    try:
        helo_result = _evaluate(ip, f"postmaster@{helo_name}", helo_name) if helo_checked else NONE
        if not _domain_of(sender):
            return SpfCheck(NONE, mail_from_domain, helo_result, helo_checked)
        return SpfCheck(_evaluate(ip, sender, helo_name), mail_from_domain, helo_result, helo_checked)
    finally:
        _current.dns = None


def spf_domain(mail_from: str, helo: str | None) -> str | None:
    """The domain SPF speaks for: MAIL FROM's, or the HELO name's for the null sender."""
    return _domain_of(mail_from) or (helo or "").strip().rstrip(".").lower() or None


def helo_domain(helo: str | None) -> str | None:
    """The HELO name when SPF can check it: a domain name, not an address literal or a bare word."""
    name = (helo or "").strip().rstrip(".").lower()
    return name if _is_domain(name) else None


def _evaluate(ip: str, sender: str, helo: str) -> str:
    result, _explanation = spf.check2(i=ip, s=sender, h=helo or "unknown", querytime=0)
    return str(result).lower() or NONE


def _thread_lookup(name: str, qtype: str, strict: Any = True, timeout: Any = None) -> list[tuple[Any, Any]]:
    dns_: ThreadDns | None = getattr(_current, "dns", None)
    if dns_ is None:
        raise spf.TempError("DNS: no resolver for this thread")
    try:
        values = dns_.query(name, qtype)
    except DnsTemporaryError as error:
        raise spf.TempError(f"DNS {error}") from error
    return [((name, qtype), value) for value in values]


def _domain_of(address: str) -> str | None:
    domain = address.rpartition("@")[2].strip().rstrip(".").lower() if "@" in address else ""
    return domain or None


def _is_domain(name: str) -> bool:
    if "." not in name or name.startswith("["):
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False


spf.DNSLookup = _thread_lookup
