"""The TLS context of outgoing HTTPS requests (webhooks, e-mail notification APIs)."""

from __future__ import annotations

import functools
import ssl


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once per process: loading them takes tens of ms of CPU,
    which a new HTTP client otherwise spends again on the event loop's thread."""
    return ssl.create_default_context()
