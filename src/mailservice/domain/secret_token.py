"""Random bearer secrets that cannot be derived (account tokens, refresh tokens, recovery codes).

They are shown to their owner once and stored only as a SHA-256 hash, so a database dump leaks none.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_secret_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Lowercase hex SHA-256 of the token text; what the database keeps instead of the token."""
    return hashlib.sha256(token.strip().encode("utf-8", "replace")).hexdigest()
