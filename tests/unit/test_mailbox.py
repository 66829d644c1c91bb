from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from mailservice.domain.email_address import normalize_billing_email
from mailservice.domain.errors import InvalidInput
from mailservice.domain.mailbox import MailboxStatus, new_mailbox

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_new_mailbox_is_pending_with_an_mbx_login() -> None:
    mailbox = new_mailbox("sha256:ab", "ssh-ed25519 AAAA", "b@example.com", NOW)

    assert mailbox.status is MailboxStatus.PENDING_PAYMENT
    assert re.fullmatch(r"mbx_[0-9a-f]{11}", mailbox.login)
    assert not mailbox.is_usable(NOW)


def test_extend_from_now_when_unpaid_and_from_expiry_when_still_active() -> None:
    mailbox = new_mailbox("sha256:ab", "k", "b@example.com", NOW).extend(1, NOW)
    assert mailbox.expires_at == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)

    renewed = mailbox.extend(1, NOW + timedelta(days=10))

    assert renewed.expires_at == datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def test_extend_after_expiry_starts_from_now() -> None:
    mailbox = new_mailbox("sha256:ab", "k", "b@example.com", NOW).extend(1, NOW)
    later = datetime(2026, 6, 1, tzinfo=UTC)

    assert mailbox.extend(1, later).expires_at == datetime(2026, 7, 1, tzinfo=UTC)


def test_mailbox_past_expiry_is_lapsed_and_not_usable() -> None:
    mailbox = new_mailbox("sha256:ab", "k", "b@example.com", NOW).extend(1, NOW)
    after = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)

    assert not mailbox.is_usable(after)
    assert mailbox.has_lapsed(after)
    assert mailbox.expire(after).status is MailboxStatus.EXPIRED


def test_billing_email_is_trimmed_and_lowercased() -> None:
    assert normalize_billing_email("  Payer@Example.COM ") == "payer@example.com"


@pytest.mark.parametrize(
    "value", ["", "   ", "plain", "a@b", "@example.com", "a@example..com", "a,b@example.com"]
)
def test_implausible_billing_email_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_billing_email(value)


def test_subscription_period_sets_the_expiry_and_never_shortens_it() -> None:
    paid = new_mailbox("sha256:ab", "k", "b@example.com", NOW).extend(1, NOW)
    period_end = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)

    renewed = paid.run_until(period_end, NOW + timedelta(days=28))

    assert (renewed.status, renewed.expires_at) == (MailboxStatus.ACTIVE, period_end)
    assert renewed.run_until(period_end - timedelta(days=31), NOW) == renewed


def test_subscription_period_reactivates_an_expired_mailbox() -> None:
    lapsed = (
        new_mailbox("sha256:ab", "k", "b@example.com", NOW).extend(1, NOW).expire(NOW + timedelta(days=40))
    )

    renewed = lapsed.run_until(NOW + timedelta(days=70), NOW + timedelta(days=40))

    assert renewed.is_usable(NOW + timedelta(days=41))


def test_revoke_expires_now() -> None:
    paid = new_mailbox("sha256:ab", "k", "b@example.com", NOW).extend(1, NOW)
    later = NOW + timedelta(days=3)

    revoked = paid.revoke(later)

    assert (revoked.status, revoked.expires_at) == (MailboxStatus.EXPIRED, later)
    assert not revoked.is_usable(later)


def test_paid_until_makes_the_mailbox_usable_until_then() -> None:
    until = datetime(2026, 4, 1, tzinfo=UTC)

    paid = new_mailbox("sha256:ab", "k", "b@example.com", NOW).paid_until(until, NOW)

    assert (paid.status, paid.paid_at, paid.expires_at) == (MailboxStatus.ACTIVE, NOW, until)
    assert paid.is_usable(until - timedelta(seconds=1))
    assert not paid.is_usable(until)
