"""Request and response models of the legacy account flow."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mailservice.domain.account import AccountCredentials
from mailservice.protocols.http.schemas import ClaimResponse, StrictRequest

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
    subscription_expires_at: datetime | None = None


def account_out(credentials: AccountCredentials) -> AccountOut:
    account = credentials.account
    return AccountOut(
        id=account.id,
        owner_email=account.owner_email,
        api_token=credentials.api_token,
        refresh_token=credentials.refresh_token,
        subscription_expires_at=account.subscription_expires_at,
    )


class MailboxListOut(BaseModel):
    items: list[ClaimResponse]
