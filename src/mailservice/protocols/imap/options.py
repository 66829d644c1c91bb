"""How an IMAP listener is set up."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

DEFAULT_MAX_LITERAL_BYTES = 25 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 30 * 60  # RFC 3501 section 5.4: at least 30 minutes


@dataclass(frozen=True)
class ImapOptions:
    """`tls_context` enables STARTTLS; `implicit_tls` makes the listener IMAPS (TLS from the first
    byte). `allow_plaintext_auth` lets LOGIN and AUTHENTICATE PLAIN run without TLS.
    `max_literal_bytes` caps an APPENDed message (the server's maximum message size)."""

    host: str = "127.0.0.1"
    port: int = 1143
    tls_context: ssl.SSLContext | None = None
    implicit_tls: ssl.SSLContext | None = None
    allow_plaintext_auth: bool = False
    max_literal_bytes: int = DEFAULT_MAX_LITERAL_BYTES
    idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS
    hostname: str = "localhost"
