"""The account JSON (`mailservice.wire.accounts`) built from issued credentials."""

from __future__ import annotations

from mailservice.domain.account import AccountCredentials
from mailservice.wire.accounts import AccountOut


def account_out(credentials: AccountCredentials) -> AccountOut:
    account = credentials.account
    return AccountOut(
        id=account.id,
        owner_email=account.owner_email,
        api_token=credentials.api_token,
        refresh_token=credentials.refresh_token,
        subscription_expires_at=account.subscription_expires_at,
    )
