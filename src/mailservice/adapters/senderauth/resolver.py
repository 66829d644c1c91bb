"""DNS for the authentication checks: dnspython's asyncio resolver, with our nameservers and a cache.

Only the serving process's event loop looks names up; the checks themselves never wait for DNS (see
`checker.py`), so nothing blocks and every lookup of a message shares its one deadline. Answers are
kept for their TTL in a `DnsAnswerCache` (failures never are).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mailservice.adapters.senderauth.dns_cache import CachedAnswer, DnsAnswerCache
from mailservice.adapters.senderauth.known_answers import DnsTemporaryError

log = logging.getLogger(__name__)


class ResolverSilent(DnsTemporaryError):
    """Our resolver did not answer at all (a failing remote domain gets SERVFAIL from it instead)."""


@dataclass(frozen=True)
class DnsSettings:
    nameservers: tuple[str, ...]
    timeout_seconds: float
    cache_size: int
    resolv_conf: str = "/etc/resolv.conf"


class AsyncDns:
    """Answers by record type: TXT as its strings, A/AAAA as addresses, MX as (preference, host)."""

    def __init__(self, settings: DnsSettings, cache: DnsAnswerCache | None = None) -> None:
        self._resolver = _resolver(settings)
        self.cache = cache if cache is not None else DnsAnswerCache(settings.cache_size)

    async def query(self, name: str, rdtype: str) -> list[object]:
        """The records of `name`; [] for NXDOMAIN or no data; DnsTemporaryError when DNS fails."""
        return list((await self.lookup(name, rdtype)).records)

    async def lookup(self, name: str, rdtype: str) -> CachedAnswer:
        """The answer with its expiry, from the cache or from DNS (then kept for its TTL)."""
        cached = self.cache.get(name, rdtype)
        if cached is not None:
            return cached
        try:
            answer = await self._resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as e:
            return self.cache.put(name, rdtype, (), _negative_ttl(e))
        except dns.exception.Timeout as e:
            raise ResolverSilent(f"{rdtype} {name}: no answer") from e
        except (dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration) as e:
            raise DnsTemporaryError(f"{rdtype} {name}: {type(e).__name__}") from e
        except dns.exception.DNSException as e:
            raise DnsTemporaryError(f"{rdtype} {name}: {e}") from e
        records = tuple(_value(rdata) for rdata in answer.rrset or ())
        return self.cache.put(name, rdtype, records, answer.chaining_result.minimum_ttl)

    def cached(self, name: str, rdtype: str) -> CachedAnswer | None:
        """The answer if the cache holds it; safe from any thread."""
        return self.cache.get(name, rdtype)


def _resolver(settings: DnsSettings) -> dns.asyncresolver.Resolver:
    if settings.nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [_nameserver(entry) for entry in settings.nameservers]
    else:
        resolver = _system_resolver(settings.resolv_conf)
    resolver.timeout = settings.timeout_seconds
    resolver.lifetime = settings.timeout_seconds
    resolver.cache = None  # answers are kept in our DnsAnswerCache
    return resolver


def _system_resolver(resolv_conf: str) -> dns.asyncresolver.Resolver:
    """The system's resolvers; none when there is no configuration, so every check is a quick temperror."""
    try:
        return dns.asyncresolver.Resolver(filename=resolv_conf)
    except dns.resolver.NoResolverConfiguration as error:
        log.warning("sender_auth.no_resolver %s; set DNS_NAMESERVERS", error)
        return dns.asyncresolver.Resolver(configure=False)


def _nameserver(entry: str) -> dns.nameserver.Nameserver:
    """`192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1` or `[2001:db8::1]:5353`."""
    host, port = entry, 53
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        port = int(port_text)
    return dns.nameserver.Do53Nameserver(host, port)


def _negative_ttl(error: dns.resolver.NXDOMAIN) -> float:
    """How long a name's absence may be kept: what its response says (RFC 2308), as dnspython reads it."""
    try:
        responses: dict[dns.name.Name, dns.message.QueryMessage] = error.kwargs["responses"]
        return float(min(response.resolve_chaining().minimum_ttl for response in responses.values()))
    except (KeyError, ValueError, dns.exception.DNSException):
        return 0.0  # not kept


def _value(rdata: object) -> object:
    if rdata.rdtype == dns.rdatatype.TXT:  # type: ignore[attr-defined]
        return tuple(rdata.strings)  # type: ignore[attr-defined]
    if rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):  # type: ignore[attr-defined]
        return str(rdata.address)  # type: ignore[attr-defined]
    if rdata.rdtype == dns.rdatatype.MX:  # type: ignore[attr-defined]
        return (int(rdata.preference), rdata.exchange.to_text(omit_final_dot=True))  # type: ignore[attr-defined]
    return rdata.to_text()  # type: ignore[attr-defined]


def parse_nameservers(text: str) -> Sequence[str]:
    return tuple(entry.strip() for entry in text.split(",") if entry.strip())
