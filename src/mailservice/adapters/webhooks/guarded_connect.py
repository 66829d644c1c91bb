"""Outbound connections that only reach addresses a webhook may reach (no SSRF).

The host is resolved here, at connect time, and every address it resolves to is checked
(`domain.webhooks.refusal`); the connection then goes to a checked address, so a name cannot resolve to
a public address for the check and a private one for the connection (DNS rebinding). TLS still names
the host: httpcore starts TLS with the URL's host as SNI and verifies the certificate for it, and the
Host header comes from the URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from typing import Protocol

import httpcore

from mailservice.domain.webhooks import refusal

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(httpcore.ConnectError):
    """The host is, or resolves to, an address webhooks may not reach."""


class HostResolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[IpAddress]:
        """Every address of `host`; raise OSError when it has none."""
        ...


class SystemResolver:
    async def resolve(self, host: str, port: int) -> list[IpAddress]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [ipaddress.ip_address(info[4][0]) for info in infos]


class StaticResolver:
    """Names from a table, like a hosts file: for tests and fixed deployments."""

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        self._table = {
            name.lower(): [ipaddress.ip_address(a) for a in addresses] for name, addresses in table.items()
        }

    async def resolve(self, host: str, port: int) -> list[IpAddress]:
        found = self._table.get(host.lower())
        if not found:
            raise OSError(f"{host} does not resolve")
        return list(found)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, resolver: HostResolver, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.checked_address(host, port)
        return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("webhooks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def checked_address(self, host: str, port: int) -> IpAddress:
        """The address to connect to: the first one, once every address of the host is allowed."""
        addresses = await self._addresses(host.strip("[]"), port)
        for address in addresses:
            reason = refusal(address, self._allow_private)
            if reason is not None:
                raise RefusedAddress(f"refused: {host} is {reason} ({address})")
        return addresses[0]

    async def _addresses(self, host: str, port: int) -> list[IpAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            addresses = await self._resolver.resolve(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        return addresses
