"""The retry schedule of webhook deliveries: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailservice.domain.webhooks import retry_at

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_each_failure_waits_longer_until_the_schedule_is_spent() -> None:
    waits = [retry_at(attempts, NOW, lambda low, high: 1.0) for attempts in range(1, 9)]

    assert [w - NOW if w else None for w in waits] == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
        None,
    ]


def test_jitter_stretches_or_shrinks_a_wait_by_at_most_a_tenth() -> None:
    shortest = retry_at(4, NOW, lambda low, high: low)
    longest = retry_at(4, NOW, lambda low, high: high)

    assert (shortest, longest) == (NOW + timedelta(minutes=108), NOW + timedelta(minutes=132))
