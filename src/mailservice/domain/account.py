"""Accounts of the legacy flow: an owner e-mail whose subscription makes its mailboxes usable."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mailservice.domain.mailbox import Mailbox, MailboxStatus, new_login
from mailservice.domain.months import extended_end

API_TOKEN_PREFIX = "acc_"
REFRESH_TOKEN_PREFIX = "ref_"
RECOVERY_CODE_PREFIX = "rec_"
REFRESH_TOKEN_TTL = timedelta(days=30)
RECOVERY_CODE_TTL = timedelta(minutes=10)
RECOVERY_INTERVAL = timedelta(minutes=1)


class AccountTokenKind(enum.StrEnum):
    REFRESH = "refresh"
    RECOVERY = "recovery"


@dataclass(frozen=True)
class Account:
    id: str
    owner_email: str
    created_at: datetime
    updated_at: datetime
    subscription_expires_at: datetime | None = None
    recovery_sent_at: datetime | None = None

    def subscription_active(self, now: datetime) -> bool:
        return self.subscription_expires_at is not None and self.subscription_expires_at > now

    def extend_subscription(self, months: int, now: datetime) -> Account:
        """Months of service from the later of now and the current expiry."""
        expires_at = extended_end(self.subscription_expires_at, months, now)
        return replace(self, subscription_expires_at=expires_at, updated_at=now)


def recovery_sent_before(now: datetime) -> datetime:
    """A recovery e-mail may go out now only if the last one was sent at or before this moment.

    The check runs in the database (a conditional update), so that it holds across nodes."""
    return now - RECOVERY_INTERVAL


@dataclass(frozen=True)
class AccountCredentials:
    """What the owner gets once, in clear: the api token and a single-use refresh token."""

    account: Account
    api_token: str
    refresh_token: str


def new_account(owner_email: str, now: datetime) -> Account:
    return Account(id=uuid.uuid4().hex, owner_email=owner_email, created_at=now, updated_at=now)


def new_account_mailbox(account: Account, now: datetime) -> Mailbox:
    """A mailbox of the account: active at once while the subscription runs, else waiting for payment."""
    active = account.subscription_active(now)
    return Mailbox(
        id=uuid.uuid4().hex,
        login=new_login(),
        key_fingerprint=None,
        public_key=None,
        billing_email=account.owner_email,
        status=MailboxStatus.ACTIVE if active else MailboxStatus.PENDING_PAYMENT,
        created_at=now,
        updated_at=now,
        paid_at=now if active else None,
        expires_at=account.subscription_expires_at if active else None,
        account_id=account.id,
    )
