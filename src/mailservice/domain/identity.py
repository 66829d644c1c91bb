"""Value objects of key identity: what a verified key proof yields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class IssuedChallenge:
    text: str
    expires_in: int
    expires_at: datetime


@dataclass(frozen=True)
class VerifiedKey:
    """A key whose possession was proven (or, in insecure mode, merely asserted).

    `nonce` and `nonce_expires_at` identify the consumed challenge, so the caller can
    record it and refuse a replay; they are None when no challenge was used.
    """

    fingerprint: str
    public_key: str
    nonce: str | None
    nonce_expires_at: datetime | None


@dataclass(frozen=True)
class KeyProof:
    """What a caller presents to prove it holds a key: the public key, a challenge and its signature."""

    public_key: str
    challenge: str | None
    signature: str | None
