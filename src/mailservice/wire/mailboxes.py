"""Requests and responses of the key-bound flow: challenges, claims, renewals, resolving credentials."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mailservice.domain.identity import KeyProof
from mailservice.wire.common import StrictRequest, Timestamp

MAX_KEY_CHARS = 8192
MAX_SIGNATURE_CHARS = 4096
MAX_CHALLENGE_CHARS = 256


class ChallengeRequest(StrictRequest):
    public_key: str = Field(
        max_length=MAX_KEY_CHARS, description="OpenSSH line: `ssh-ed25519 AAAA... [comment]`"
    )


class ChallengeResponse(BaseModel):
    challenge: str
    expires_in: int = Field(description="Seconds the challenge stays valid")


class KeyProofRequest(StrictRequest):
    edproof: str = Field(max_length=MAX_KEY_CHARS, description="The OpenSSH ssh-ed25519 public key line")
    challenge: str | None = Field(default=None, max_length=MAX_CHALLENGE_CHARS)
    signature: str | None = Field(
        default=None,
        max_length=MAX_SIGNATURE_CHARS,
        description="`ssh-keygen -Y sign -n edproof` output (armoured or not) or a base64 raw Ed25519 signature",
    )

    def proof(self) -> KeyProof:
        return KeyProof(public_key=self.edproof, challenge=self.challenge, signature=self.signature)


class ClaimRequest(KeyProofRequest):
    billing_email: str = Field(max_length=320)
    coupon_code: str | None = Field(default=None, max_length=100)


class RenewRequest(KeyProofRequest):
    billing_email: str | None = Field(
        default=None,
        max_length=320,
        description="Where the payment link goes; becomes the mailbox's billing e-mail. Default: the stored one",
    )


class ClaimResponse(BaseModel):
    id: str
    status: str
    usable: bool
    email: str
    payment_url: str | None
    expires_at: Timestamp | None
    access_token: str | None


class ResolveRequest(KeyProofRequest):
    protocol: str = Field(default="imap", max_length=16)


class ResolveResponse(BaseModel):
    mailbox_id: str
    host: str
    port: int
    username: str
    password: str
    email: str
    access_token: str
    expires_at: Timestamp | None
