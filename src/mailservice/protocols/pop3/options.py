"""How a POP3 listener is set up."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from mailservice.protocols.connection_policy import ConnectionLimits, ListenerPolicy, MemoryBudget
from mailservice.services.metrics import ProtocolMetrics, unregistered

IDLE_TIMEOUT_SECONDS = 10 * 60  # RFC 1939 section 3: an autologout timer of at least 10 minutes
LOGIN_TIMEOUT_SECONDS = 60
MAX_CONNECTIONS = 1000
MAX_CONNECTIONS_PER_IP = 50
MEMORY_BUDGET_BYTES = 128 * 1024 * 1024
LINE_LIMIT = 1024
"""Longest accepted line, CRLF included (RFC 2449 allows clients 255 octets; SASL responses more)."""


def listener_policy() -> ListenerPolicy:
    """The policy of a listener started on its own (the served process shares one across listeners).
    A connection holds at most one line at a time."""
    return ListenerPolicy(
        limits=ConnectionLimits(MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP),
        memory=MemoryBudget(MEMORY_BUDGET_BYTES),
        login_timeout_seconds=LOGIN_TIMEOUT_SECONDS,
        idle_timeout_seconds=IDLE_TIMEOUT_SECONDS,
        connection_buffer_bytes=LINE_LIMIT,
        login_buffer_bytes=LINE_LIMIT,
    )


@dataclass(frozen=True)
class Pop3Options:
    """`tls_context` enables STLS; `implicit_tls` makes the listener POP3S (TLS from the first byte).
    `allow_plaintext_auth` lets USER/PASS and AUTH PLAIN run without TLS. `policy` holds the
    connection caps (beyond them `-ERR [SYS/TEMP]`), timeouts and memory shares (POP3 and POP3S of
    one process share one)."""

    host: str = "127.0.0.1"
    port: int = 1110
    hostname: str = "localhost"
    tls_context: ssl.SSLContext | None = None
    implicit_tls: ssl.SSLContext | None = None
    allow_plaintext_auth: bool = False
    policy: ListenerPolicy = field(default_factory=listener_policy)
    metrics: ProtocolMetrics = field(default_factory=lambda: unregistered("pop3"))
