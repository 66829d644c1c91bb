"""SPF with pyspf (RFC 7208): the MAIL FROM identity, and the HELO identity, against the client's IP.

pyspf takes its DNS from the module-level function `spf.DNSLookup`; we install one that answers
from the known answers of the check running in the calling thread (`KnownAnswers`), so concurrent
checks each read their own and nothing in pyspf opens a socket of its own.

A result is kept, by (client address, identity checked, HELO name), until the first of the DNS
answers it was computed from expires: evaluating the same records again could only give the same
answer. A `temperror` is never kept.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

import spf

from mailservice.adapters.senderauth.known_answers import DnsTemporaryError, KnownAnswers
from mailservice.domain.sender_auth import NONE, TEMPERROR, SpfCheck

_current = threading.local()
# a result that needed no DNS answer at all (a malformed identity) is still looked at again now and then
LONGEST_KEPT_SECONDS = 3600.0


class SpfResults:
    """SPF results kept until the DNS answers behind them expire (on the answer cache's clock)."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._results: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, key: tuple[str, str, str]) -> str | None:
        kept = self._results.get(key)
        if kept is None or kept[1] <= self._clock():
            return None
        return kept[0]

    def put(self, key: tuple[str, str, str], result: str, expires: float) -> None:
        expires = min(expires, self._clock() + LONGEST_KEPT_SECONDS)
        if result == TEMPERROR or self._size <= 0 or expires <= self._clock():
            return
        if len(self._results) >= self._size:
            self._results.clear()
        self._results[key] = (result, expires)


def check_spf(
    dns_: KnownAnswers, ip: str | None, mail_from: str, helo: str | None, results: SpfResults | None = None
) -> SpfCheck:
    """SPF of MAIL FROM (of postmaster@HELO for the null sender), and of the HELO name on its own."""
    helo_name = (helo or "").strip().rstrip(".")
    mail_from_domain = spf_domain(mail_from, helo)
    helo_checked = helo_domain(helo)
    if ip is None:
        return SpfCheck(NONE, mail_from_domain, NONE, helo_checked)
    sender = mail_from if "@" in mail_from else f"postmaster@{helo_name}"
    results = results if results is not None else SpfResults(0)
    helo_result = _kept(results, dns_, ip, f"postmaster@{helo_name}", helo_name) if helo_checked else NONE
    if not _domain_of(sender):
        return SpfCheck(NONE, mail_from_domain, helo_result, helo_checked)
    return SpfCheck(_kept(results, dns_, ip, sender, helo_name), mail_from_domain, helo_result, helo_checked)


def spf_domain(mail_from: str, helo: str | None) -> str | None:
    """The domain SPF speaks for: MAIL FROM's, or the HELO name's for the null sender."""
    return _domain_of(mail_from) or (helo or "").strip().rstrip(".").lower() or None


def helo_domain(helo: str | None) -> str | None:
    """The HELO name when SPF can check it: a domain name, not an address literal or a bare word."""
    name = (helo or "").strip().rstrip(".").lower()
    return name if _is_domain(name) else None


def _kept(results: SpfResults, dns_: KnownAnswers, ip: str, sender: str, helo: str) -> str:
    key = (ip, sender, helo)
    result = results.get(key)
    if result is None:
        dns_.track_expiry()
        result = _evaluate(dns_, ip, sender, helo)
        if not dns_.failed:
            results.put(key, result, dns_.expires)
    return result


def _evaluate(dns_: KnownAnswers, ip: str, sender: str, helo: str) -> str:
    _current.dns = dns_
    try:
        result, _explanation = spf.check2(i=ip, s=sender, h=helo or "unknown", querytime=0)
    finally:
        _current.dns = None
    return str(result).lower() or NONE


def _thread_lookup(name: str, qtype: str, strict: Any = True, timeout: Any = None) -> list[tuple[Any, Any]]:
    dns_: KnownAnswers | None = getattr(_current, "dns", None)
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
    if ":" not in name and not name.replace(".", "").isdigit():
        return True  # an address is digits and dots, or has a colon; failing to parse a name costs more
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False


spf.DNSLookup = _thread_lookup
