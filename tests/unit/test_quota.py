from __future__ import annotations

from mailservice.domain.quota import Quota


def test_a_mailbox_without_its_own_limit_gets_the_default() -> None:
    assert Quota.of_mailbox(None, 10, default_limit=500).limit_bytes == 500


def test_a_mailbox_with_its_own_limit_keeps_it() -> None:
    assert Quota.of_mailbox(2000, 10, default_limit=500).limit_bytes == 2000


def test_a_message_that_fills_the_quota_exactly_is_allowed() -> None:
    quota = Quota(used_bytes=90, limit_bytes=100)

    assert quota.allows(10)
    assert not quota.allows(11)


def test_a_quota_is_exhausted_once_used_reaches_the_limit() -> None:
    assert not Quota(used_bytes=99, limit_bytes=100).exhausted
    assert Quota(used_bytes=100, limit_bytes=100).exhausted


def test_with_added_counts_the_bytes_and_the_message() -> None:
    quota = Quota(used_bytes=90, limit_bytes=100, messages=3).with_added(10)

    assert quota == Quota(used_bytes=100, limit_bytes=100, messages=4)


def test_with_added_leaves_an_uncounted_message_total_uncounted() -> None:
    assert Quota(used_bytes=0, limit_bytes=100).with_added(5) == Quota(used_bytes=5, limit_bytes=100)
