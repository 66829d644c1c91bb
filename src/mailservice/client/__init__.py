"""A typed client of the mail service: keys, the signed-challenge proof, claim, resolve and reading."""

from __future__ import annotations

from mailservice.client.async_client import AsyncMailClient
from mailservice.client.errors import (
    AuthenticationFailed,
    Expired,
    InvalidRequest,
    MailboxNotUsable,
    MailServiceError,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServiceUnavailable,
)
from mailservice.client.keys import AgentKey, KeyFileError
from mailservice.client.models import (
    ClaimResponse,
    MailboxStatus,
    MessageListOut,
    MessageOut,
    Proof,
    ResolveResponse,
    SafeTextOut,
    VerificationCode,
)
from mailservice.client.operations import MissingKey
from mailservice.client.sync_client import MailClient

__all__ = [
    "AgentKey",
    "AsyncMailClient",
    "AuthenticationFailed",
    "ClaimResponse",
    "Expired",
    "InvalidRequest",
    "KeyFileError",
    "MailClient",
    "MailServiceError",
    "MailboxNotUsable",
    "MailboxStatus",
    "MessageListOut",
    "MessageOut",
    "MissingKey",
    "NotFound",
    "PaymentRequired",
    "Proof",
    "RateLimited",
    "ResolveResponse",
    "SafeTextOut",
    "ServiceUnavailable",
    "VerificationCode",
]
