"""The mailbox: a receive-only address bound to one key, usable while paid and unexpired."""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from mailservice.domain.months import add_months

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
        start = self.expires_at if self.expires_at is not None and self.expires_at > now else now
        return replace(
            self,
            status=MailboxStatus.ACTIVE,
            paid_at=now,
            expires_at=add_months(start, max(1, months)),
            updated_at=now,
        )

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
