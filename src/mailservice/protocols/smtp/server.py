"""The SMTP and LMTP listeners: aiosmtpd protocol objects behind our connection limits."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from mailservice.protocols.connection_policy import ConnectionLimits, ListenerPolicy
from mailservice.protocols.smtp.data_in_blocks import DataInBlocks
from mailservice.protocols.smtp.fast_address import FastAddress
from mailservice.protocols.smtp.handler import InboundHandler, RecipientLimits
from mailservice.protocols.smtp.replies import SHUTTING_DOWN, TOO_MANY_CONNECTIONS
from mailservice.protocols.smtp.spool import Spool
from mailservice.protocols.smtp.timeouts import SmtpTimeouts, Timeouts
from mailservice.services.delivery import DeliveryService
from mailservice.services.metrics import SmtpSeries
from mailservice.services.postmaster import PostmasterService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListenerOptions:
    """One listener's address, and the policy, timers and spool its connections share with the other
    SMTP/LMTP listener. `policy.connection_buffer_bytes` is the spool threshold."""

    host: str
    port: int
    hostname: str
    max_message_bytes: int
    recipients: RecipientLimits
    policy: ListenerPolicy
    timeouts: SmtpTimeouts
    spool: Spool
    metrics: SmtpSeries
    tls_context: ssl.SSLContext | None
    sessions: SmtpSessions


class SmtpSessions:
    """The open SMTP and LMTP sessions, so that a stop can end at once those between transactions and
    let only a message being received finish."""

    def __init__(self) -> None:
        self._open: set[_Limited] = set()

    def add(self, session: _Limited) -> None:
        self._open.add(session)

    def discard(self, session: _Limited) -> None:
        self._open.discard(session)

    def end_idle(self) -> int:
        """Say 421 to every session with no transaction started and close it; how many were."""
        idle = [session for session in self._open if session.between_transactions()]
        for session in idle:
            session.leave(SHUTTING_DOWN)
        return len(idle)


class _Measured:
    """Mixed into aiosmtpd's protocol: counts the sessions let in and every 4xx/5xx reply by code."""

    metrics: SmtpSeries
    metrics_protocol: str

    def connection_made(self, transport: Any) -> None:
        self.metrics.sessions.labels(self.metrics_protocol).inc()
        super().connection_made(transport)  # type: ignore[misc]

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        for line in text.split("\r\n"):
            if line[:1] in ("4", "5") and line[3:4] != "-":
                self.metrics.refused.labels(self.metrics_protocol, line[:3]).inc()
        await super().push(status)  # type: ignore[misc]


class _Limited:
    """Mixed into aiosmtpd's protocol: refuse a connection over the limits with 421, count the rest."""

    limits: ConnectionLimits
    sessions: SmtpSessions
    metrics: SmtpSeries
    metrics_protocol: str
    envelope: Any
    transport: Any
    _limit_ip: str | None = None
    _refused: bool = False

    def connection_made(self, transport: Any) -> None:
        if self._limit_ip is None and not self._refused:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
            if not self.limits.try_acquire(ip):
                self._refused = True
                log.warning("smtp.connection_refused ip=%s reason=limit", ip)
                self.metrics.refused.labels(self.metrics_protocol, TOO_MANY_CONNECTIONS[:3]).inc()
                transport.write(f"{TOO_MANY_CONNECTIONS}\r\n".encode())
                transport.close()
                return
            self._limit_ip = ip
            self.sessions.add(self)
        super().connection_made(transport)  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self.sessions.discard(self)
        if self._limit_ip is not None:
            self.limits.release(self._limit_ip)
            self._limit_ip = None
        super().connection_lost(error)  # type: ignore[misc]

    def between_transactions(self) -> bool:
        """No MAIL FROM yet, or the last transaction is over: nothing would be lost by closing."""
        return self.envelope is None or self.envelope.mail_from is None

    def leave(self, reply: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(f"{reply}\r\n".encode())
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)  # type: ignore[misc]

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        result: bool | None = super().eof_received()  # type: ignore[misc]
        return result


class LimitedSMTP(_Limited, _Measured, Timeouts, DataInBlocks, FastAddress, SMTP):
    metrics_protocol = "smtp"


class LimitedLMTP(_Limited, _Measured, Timeouts, DataInBlocks, FastAddress, LMTP):
    metrics_protocol = "lmtp"


async def start_smtp(
    delivery: DeliveryService, postmaster: PostmasterService, options: ListenerOptions
) -> asyncio.Server:
    return await _start(
        LimitedSMTP,
        InboundHandler(delivery, postmaster, "ESMTP", options.recipients, options.metrics),
        options,
    )


async def start_lmtp(
    delivery: DeliveryService, postmaster: PostmasterService, options: ListenerOptions
) -> asyncio.Server:
    return await _start(
        LimitedLMTP,
        InboundHandler(delivery, postmaster, "LMTP", options.recipients, options.metrics),
        options,
    )


async def _start(protocol_class: Any, handler: InboundHandler, options: ListenerOptions) -> asyncio.Server:
    timeouts = options.timeouts

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
            timeout=timeouts.command,
        )
        protocol.limits = options.policy.limits
        protocol.sessions = options.sessions
        protocol.timeouts = timeouts
        protocol.connection_memory = options.policy.connection_memory()
        protocol.spool = options.spool
        protocol.metrics = options.metrics
        return protocol

    return await asyncio.get_running_loop().create_server(make_protocol, options.host, options.port)
