"""An authoritative DNS server on a loopback UDP port, serving zone data a test gives it (dnspython).

Names listed in `silent` get no answer at all, as from a server that is down or filtered; any other
name the zone lacks is NXDOMAIN. With `negative_ttl` set, a negative answer carries an SOA whose TTL and
minimum are that many seconds (RFC 2308), so resolvers keep it that long.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@dataclass
class Zone:
    """Records as (name, type) -> rdata texts, e.g. ("example.com", "TXT"): ['"v=spf1 -all"']."""

    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    queries: list[tuple[str, str]] = field(default_factory=list)
    negative_ttl: int | None = None
    ttl: int = 300
    ttls: dict[str, int] = field(default_factory=dict)
    """A TTL of its own for some names."""

    def add(self, name: str, rdtype: str, *values: str) -> None:
        self.records.setdefault((_key(name), rdtype.upper()), []).extend(values)

    def add_txt(self, name: str, text: str) -> None:
        """A TXT record, split into strings of at most 255 bytes as DNS requires."""
        chunks = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
        self.add(name, "TXT", " ".join(f'"{chunk}"' for chunk in chunks))

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = _key(question.name.to_text())
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        values = self.records.get((name, rdtype))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, self.ttls.get(name, self.ttl), dns.rdataclass.IN, question.rdtype, values
                )
            )
            return response
        if not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        if self.negative_ttl is not None:
            response.authority.append(_soa(question.name, self.negative_ttl))
        return response


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self._zone = zone
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        response = self._zone.answer(dns.message.from_wire(data))
        if response is not None and self._transport is not None:
            self._transport.sendto(response.to_wire(), addr)


@asynccontextmanager
async def dns_server(zone: Zone) -> AsyncIterator[str]:
    """Serve `zone`; yields the server as `127.0.0.1:PORT`, the form DNS_NAMESERVERS takes."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(zone), local_addr=("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    finally:
        transport.close()


def _soa(name: dns.name.Name, ttl: int) -> dns.rrset.RRset:
    """An SOA for the parent of `name` (a test zone has no apex of its own)."""
    soa = f"ns.test. hostmaster.test. 1 3600 600 86400 {ttl}"
    return dns.rrset.from_text(name.parent(), ttl, dns.rdataclass.IN, dns.rdatatype.SOA, soa)


def _key(name: str) -> str:
    return name.lower().rstrip(".")
