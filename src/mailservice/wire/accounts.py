"""Requests and responses of the legacy account flow."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mailservice.wire.common import StrictRequest, Timestamp
from mailservice.wire.mailboxes import ClaimResponse

MAX_TOKEN_CHARS = 200


class CreateAccountRequest(StrictRequest):
    owner_email: str = Field(max_length=320)


class RefreshRequest(StrictRequest):
    refresh_token: str = Field(max_length=MAX_TOKEN_CHARS)


class RecoveryStartRequest(StrictRequest):
    owner_email: str = Field(max_length=320)


class RecoveryCompleteRequest(StrictRequest):
    token: str = Field(max_length=MAX_TOKEN_CHARS)


class AccessTokenRequest(StrictRequest):
    access_token: str = Field(max_length=MAX_TOKEN_CHARS)


class AccountOut(BaseModel):
    """Shown once: store api_token and refresh_token, only their hashes are kept."""

    id: str
    owner_email: str
    api_token: str
    refresh_token: str
    subscription_expires_at: Timestamp | None = None


class MailboxListOut(BaseModel):
    items: list[ClaimResponse]
