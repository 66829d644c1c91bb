from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailservice.domain.account import (
    RECOVERY_INTERVAL,
    new_account,
    new_account_mailbox,
    recovery_sent_before,
)
from mailservice.domain.mailbox import MailboxStatus

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_extend_subscription_from_now_then_from_the_current_expiry() -> None:
    account = new_account("owner@example.com", NOW).extend_subscription(1, NOW)
    assert account.subscription_expires_at == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)

    renewed = account.extend_subscription(1, NOW + timedelta(days=10))

    assert renewed.subscription_expires_at == datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def test_extend_subscription_after_it_lapsed_starts_from_now() -> None:
    account = new_account("owner@example.com", NOW).extend_subscription(1, NOW)
    later = datetime(2026, 6, 1, tzinfo=UTC)

    assert account.extend_subscription(1, later).subscription_expires_at == datetime(2026, 7, 1, tzinfo=UTC)


def test_a_recovery_mail_may_follow_the_last_one_after_the_interval() -> None:
    assert recovery_sent_before(NOW) == NOW - RECOVERY_INTERVAL
    assert timedelta(minutes=1) == RECOVERY_INTERVAL


def test_a_mailbox_of_a_paid_account_is_active_until_the_subscription_ends() -> None:
    account = new_account("owner@example.com", NOW).extend_subscription(1, NOW)

    mailbox = new_account_mailbox(account, NOW)

    assert mailbox.status is MailboxStatus.ACTIVE
    assert mailbox.expires_at == account.subscription_expires_at
