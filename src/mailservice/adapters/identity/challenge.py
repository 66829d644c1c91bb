"""Stateless challenges: a timestamp and nonce, bound to one key by an HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from mailservice.adapters.identity.openssh import SshEd25519Key
from mailservice.domain.errors import InvalidProof
from mailservice.domain.identity import IssuedChallenge

VERSION = "v1"
MAX_CHALLENGE_CHARS = 200
_FORMAT = re.compile(r"v1\.(0|[1-9][0-9]{0,15})\.([0-9a-f]{32})\.([0-9a-f]{64})")


@dataclass(frozen=True)
class CheckedChallenge:
    """A genuine, current challenge; `expires_at` is when a replay record of `nonce` may be dropped."""

    nonce: str
    expires_at: datetime


class ChallengeCodec:
    """Issues challenges and checks them later without storing anything."""

    def __init__(self, secret: bytes, ttl_seconds: int = 30, skew_seconds: int = 5) -> None:
        if not secret:
            raise ValueError("challenge secret must not be empty")
        if ttl_seconds <= 0 or skew_seconds < 0:
            raise ValueError("ttl_seconds must be positive and skew_seconds not negative")
        self._secret = secret
        self._ttl = ttl_seconds
        self._skew = skew_seconds

    def issue(self, key: SshEd25519Key, now: datetime) -> IssuedChallenge:
        issued_at = int(_timestamp(now))
        body = f"{VERSION}.{issued_at}.{secrets.token_hex(16)}"
        return IssuedChallenge(
            text=f"{body}.{self._mac(body, key)}",
            expires_in=self._ttl,
            expires_at=datetime.fromtimestamp(issued_at + self._ttl, UTC),
        )

    def check(self, text: str, key: SshEd25519Key, now: datetime) -> CheckedChallenge:
        """Raise InvalidProof unless `text` was issued for `key` and is still within its lifetime."""
        match = _FORMAT.fullmatch(text) if len(text) <= MAX_CHALLENGE_CHARS else None
        if match is None:
            raise InvalidProof("malformed challenge")
        issued_at, nonce, mac = int(match[1]), match[2], match[3]
        if not hmac.compare_digest(self._mac(text[: -len(mac) - 1], key), mac):
            raise InvalidProof("challenge was not issued by this server for this key")
        # Compared as numbers first: a far-future timestamp would overflow datetime.
        current = _timestamp(now)
        if issued_at > current + self._skew:
            raise InvalidProof("challenge is from the future")
        if current > issued_at + self._ttl + self._skew:
            raise InvalidProof("challenge expired")
        expires_at = datetime.fromtimestamp(issued_at + self._ttl + self._skew, UTC)
        return CheckedChallenge(nonce=nonce, expires_at=expires_at)

    def _mac(self, body: str, key: SshEd25519Key) -> str:
        message = f"{body}.{base64.b64encode(key.blob).decode('ascii')}".encode("ascii")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def _timestamp(now: datetime) -> float:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.timestamp()
