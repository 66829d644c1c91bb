"""The retention policy's rules: age limits in range, the configured default, the age cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailservice.domain.errors import InvalidInput
from mailservice.domain.retention import MAX_AGE_DAYS_LIMIT, RetentionPolicy

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("days", [0, -1, MAX_AGE_DAYS_LIMIT + 1])
def test_an_age_limit_out_of_range_is_invalid_input(days: int) -> None:
    with pytest.raises(InvalidInput, match="max_age_days must be between 1 and 36500"):
        RetentionPolicy(days, True)


def test_a_configured_age_of_zero_keeps_mail_forever() -> None:
    policy = RetentionPolicy.from_settings(0, False)

    assert policy == RetentionPolicy(None, False)
    assert policy.cutoff(NOW) is None


def test_the_cutoff_is_the_age_limit_before_now() -> None:
    assert RetentionPolicy(7, True).cutoff(NOW) == NOW - timedelta(days=7)
    assert RetentionPolicy.from_settings(MAX_AGE_DAYS_LIMIT, True).max_age_days == MAX_AGE_DAYS_LIMIT
