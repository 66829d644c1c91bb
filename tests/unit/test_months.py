from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.months import add_months, extended_end


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 31, 12, 0, tzinfo=UTC), 1, datetime(2026, 2, 28, 12, 0, tzinfo=UTC)),
        (datetime(2028, 1, 31, 12, 0, tzinfo=UTC), 1, datetime(2028, 2, 29, 12, 0, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 4, 30, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), 13, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2026, 5, 10, tzinfo=UTC), 0, datetime(2026, 5, 10, tzinfo=UTC)),
    ],
)
def test_add_months_clamps_to_the_end_of_shorter_months(
    start: datetime, months: int, expected: datetime
) -> None:
    assert add_months(start, months) == expected


def test_negative_months_are_refused() -> None:
    with pytest.raises(ValueError):
        add_months(datetime(2026, 1, 1, tzinfo=UTC), -1)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=1, max_value=120),
)
def test_add_months_always_moves_forward_by_at_most_the_calendar_span(start: datetime, months: int) -> None:
    result = add_months(start, months)

    assert result > start
    assert (result.year - start.year) * 12 + result.month - start.month == months
    assert result.time() == start.time()


NOON = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_extended_end_counts_from_now_without_a_current_end() -> None:
    assert extended_end(None, 1, NOON) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


def test_extended_end_counts_from_a_current_end_still_ahead() -> None:
    current_end = datetime(2026, 3, 15, tzinfo=UTC)

    assert extended_end(current_end, 2, NOON) == datetime(2026, 5, 15, tzinfo=UTC)


def test_extended_end_restarts_from_now_when_the_term_has_run_out() -> None:
    current_end = datetime(2025, 12, 1, tzinfo=UTC)

    assert extended_end(current_end, 1, NOON) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


def test_extended_end_grants_at_least_one_month() -> None:
    assert extended_end(None, 0, NOON) == extended_end(None, 1, NOON)
