"""How an IMAP listener is set up."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from mailservice.protocols.connection_policy import ConnectionLimits, ListenerPolicy, MemoryBudget
from mailservice.protocols.imap.fields_cache import FieldsCache
from mailservice.services.metrics import ProtocolMetrics, unregistered

DEFAULT_MAX_LITERAL_BYTES = 25 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 30 * 60  # RFC 3501 section 5.4: at least 30 minutes
LOGIN_TIMEOUT_SECONDS = 60
MAX_CONNECTIONS = 1000
MAX_CONNECTIONS_PER_IP = 50
MEMORY_BUDGET_BYTES = 128 * 1024 * 1024
CONNECTION_BUFFER_BYTES = 2 * 1024 * 1024
LOGIN_COMMAND_BYTES = 8 * 1024
SPOOL_THRESHOLD_BYTES = 1024 * 1024


def listener_policy() -> ListenerPolicy:
    """The policy of a listener started on its own (the served process shares one across listeners)."""
    return ListenerPolicy(
        limits=ConnectionLimits(MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP),
        memory=MemoryBudget(MEMORY_BUDGET_BYTES),
        login_timeout_seconds=LOGIN_TIMEOUT_SECONDS,
        idle_timeout_seconds=IDLE_TIMEOUT_SECONDS,
        connection_buffer_bytes=CONNECTION_BUFFER_BYTES,
        login_buffer_bytes=LOGIN_COMMAND_BYTES,
    )


@dataclass(frozen=True)
class ImapOptions:
    """`tls_context` enables STARTTLS; `implicit_tls` makes the listener IMAPS (TLS from the first
    byte). `allow_plaintext_auth` lets LOGIN and AUTHENTICATE PLAIN run without TLS.
    `max_literal_bytes` caps an APPENDed message (the server's maximum message size); a larger APPEND
    literal than `spool_threshold_bytes` goes to a temporary file while it arrives. `policy` holds the
    connection caps, timeouts and memory shares (IMAP and IMAPS of one process share one)."""

    host: str = "127.0.0.1"
    port: int = 1143
    tls_context: ssl.SSLContext | None = None
    implicit_tls: ssl.SSLContext | None = None
    allow_plaintext_auth: bool = False
    max_literal_bytes: int = DEFAULT_MAX_LITERAL_BYTES
    spool_threshold_bytes: int = SPOOL_THRESHOLD_BYTES
    hostname: str = "localhost"
    policy: ListenerPolicy = field(default_factory=listener_policy)
    metrics: ProtocolMetrics = field(default_factory=lambda: unregistered("imap"))
    fields_cache: FieldsCache = field(default_factory=FieldsCache)
    """HEADER.FIELDS answers already made, shared by the connections of the listeners given it."""
