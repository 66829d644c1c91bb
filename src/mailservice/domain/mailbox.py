"""The mailbox: a receive-only address bound to one key, usable while paid and unexpired."""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from mailservice.domain.months import extended_end

LOGIN_PREFIX = "mbx_"
LOGIN_HEX_LENGTH = 11


class MailboxStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Mailbox:
    id: str
    login: str
    key_fingerprint: str | None
    public_key: str | None
    billing_email: str
    status: MailboxStatus
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None = None
    expires_at: datetime | None = None
    credential_epoch: int = 0
    account_id: str | None = None

    def address(self, mail_domain: str) -> str:
        return f"{self.login}@{mail_domain}"

    def is_usable(self, now: datetime) -> bool:
        return (
            self.status is MailboxStatus.ACTIVE
            and self.paid_at is not None
            and (self.expires_at is None or self.expires_at > now)
        )

    def has_lapsed(self, now: datetime) -> bool:
        """Active on paper but past its expiry: the lazy check turns it into `expired`."""
        return self.status is MailboxStatus.ACTIVE and self.expires_at is not None and self.expires_at <= now

    def expire(self, now: datetime) -> Mailbox:
        return replace(self, status=MailboxStatus.EXPIRED, updated_at=now)

    def extend(self, months: int, now: datetime) -> Mailbox:
        """Grant `months` of service from the later of now and the current expiry."""
        return self.paid_until(extended_end(self.expires_at, months, now), now)

    def paid_until(self, expires_at: datetime, now: datetime) -> Mailbox:
        """Paid now and usable until `expires_at`."""
        return replace(self, status=MailboxStatus.ACTIVE, paid_at=now, expires_at=expires_at, updated_at=now)

    def run_until(self, period_end: datetime, now: datetime) -> Mailbox:
        """A paid subscription period: usable until `period_end`, never shortening a later expiry."""
        if (
            self.expires_at is not None
            and self.expires_at >= period_end
            and self.status is MailboxStatus.ACTIVE
        ):
            return self
        expires_at = max(period_end, self.expires_at) if self.expires_at is not None else period_end
        return self.paid_until(expires_at, now)

    def revoke(self, now: datetime) -> Mailbox:
        """The provider ended the subscription: the mailbox expires now."""
        expires_at = now if self.expires_at is None or self.expires_at > now else self.expires_at
        return replace(self, status=MailboxStatus.EXPIRED, expires_at=expires_at, updated_at=now)

    def with_billing_email(self, billing_email: str, now: datetime) -> Mailbox:
        return replace(self, billing_email=billing_email, updated_at=now)


def new_mailbox(fingerprint: str, public_key: str, billing_email: str, now: datetime) -> Mailbox:
    return Mailbox(
        id=uuid.uuid4().hex,
        login=new_login(),
        key_fingerprint=fingerprint,
        public_key=public_key,
        billing_email=billing_email,
        status=MailboxStatus.PENDING_PAYMENT,
        created_at=now,
        updated_at=now,
    )


def new_login() -> str:
    return LOGIN_PREFIX + secrets.token_hex(6)[:LOGIN_HEX_LENGTH]
