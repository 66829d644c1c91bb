"""How a POP3 listener is set up."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

IDLE_TIMEOUT_SECONDS = 10 * 60  # RFC 1939 section 3: an autologout timer of at least 10 minutes
MAX_CONNECTIONS = 1000


@dataclass(frozen=True)
class Pop3Options:
    """`tls_context` enables STLS; `implicit_tls` makes the listener POP3S (TLS from the first byte).
    `allow_plaintext_auth` lets USER/PASS and AUTH PLAIN run without TLS. Connections over
    `max_connections` are refused with `-ERR [SYS/TEMP]`."""

    host: str = "127.0.0.1"
    port: int = 1110
    hostname: str = "localhost"
    tls_context: ssl.SSLContext | None = None
    implicit_tls: ssl.SSLContext | None = None
    allow_plaintext_auth: bool = False
    idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS
