"""The SMTP and LMTP listeners: aiosmtpd protocol objects behind our connection limits."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from mailservice.protocols.connection_policy import ConnectionLimits
from mailservice.protocols.smtp.bulk_data import BulkData
from mailservice.protocols.smtp.fast_address import FastAddress
from mailservice.protocols.smtp.handler import InboundHandler
from mailservice.protocols.smtp.replies import TOO_MANY_CONNECTIONS
from mailservice.services.delivery import DeliveryService

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class ListenerOptions:
    host: str
    port: int
    hostname: str
    max_message_bytes: int
    limits: ConnectionLimits
    tls_context: ssl.SSLContext | None = None


class _Limited:
    """Mixed into aiosmtpd's protocol: refuse a connection over the limits with 421, count the rest."""

    limits: ConnectionLimits
    _limit_ip: str | None = None
    _refused: bool = False

    def connection_made(self, transport: Any) -> None:
        if self._limit_ip is None and not self._refused:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
            if not self.limits.try_acquire(ip):
                self._refused = True
                log.warning("smtp.connection_refused ip=%s reason=limit", ip)
                transport.write(f"{TOO_MANY_CONNECTIONS}\r\n".encode())
                transport.close()
                return
            self._limit_ip = ip
        super().connection_made(transport)  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if self._limit_ip is not None:
            self.limits.release(self._limit_ip)
            self._limit_ip = None
        super().connection_lost(error)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)  # type: ignore[misc]

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        result: bool | None = super().eof_received()  # type: ignore[misc]
        return result


class LimitedSMTP(_Limited, BulkData, FastAddress, SMTP):
    pass


class LimitedLMTP(_Limited, BulkData, FastAddress, LMTP):
    pass


async def start_smtp(delivery: DeliveryService, options: ListenerOptions) -> asyncio.Server:
    return await _start(LimitedSMTP, InboundHandler(delivery, "ESMTP"), options)


async def start_lmtp(delivery: DeliveryService, options: ListenerOptions) -> asyncio.Server:
    return await _start(LimitedLMTP, InboundHandler(delivery, "LMTP"), options)


async def _start(protocol_class: Any, handler: InboundHandler, options: ListenerOptions) -> asyncio.Server:
    def make_protocol() -> Any:
        protocol = protocol_class(
            handler,
            hostname=options.hostname,
            ident="mailservice",
            data_size_limit=options.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=options.tls_context,
            require_starttls=False,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        protocol.limits = options.limits
        return protocol

    return await asyncio.get_running_loop().create_server(make_protocol, options.host, options.port)
