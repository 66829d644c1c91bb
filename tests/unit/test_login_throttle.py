from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailservice.domain.clock import FixedClock
from mailservice.domain.errors import RateLimited
from mailservice.services.login_throttle import LoginThrottle, LoginThrottlePolicy
from mailservice.services.rate_limiter import source_of

POLICY = LoginThrottlePolicy(failures_per_source=4, failures_per_source_login=2, window_seconds=60.0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 31, 12, 0, tzinfo=UTC))


@pytest.fixture
def throttle(clock: FixedClock) -> LoginThrottle:
    return LoginThrottle(POLICY, clock)


def _fail(throttle: LoginThrottle, peer: str, login: str, times: int) -> None:
    for _ in range(times):
        throttle.reserve(peer, login)  # never refunded: a wrong password


def test_a_source_is_throttled_for_one_login_after_its_allowance_for_that_login(
    throttle: LoginThrottle,
) -> None:
    # given
    _fail(throttle, "192.0.2.1", "owner", 2)
    # when / then
    with pytest.raises(RateLimited, match="try again in 30 seconds"):
        throttle.reserve("192.0.2.1", "owner")
    throttle.reserve("192.0.2.1", "someone-else")


def test_a_source_is_throttled_for_every_login_after_its_own_allowance(throttle: LoginThrottle) -> None:
    # given
    _fail(throttle, "192.0.2.1", "a", 2)
    _fail(throttle, "192.0.2.1", "b", 2)
    # when / then
    with pytest.raises(RateLimited):
        throttle.reserve("192.0.2.1", "c")


def test_failures_from_other_sources_never_throttle_the_owner(throttle: LoginThrottle) -> None:
    # given
    for attacker in range(1, 50):
        _fail(throttle, f"192.0.2.{attacker}", "owner", 2)
    # when / then
    throttle.reserve("198.51.100.7", "owner")


def test_refunded_attempts_cost_nothing(throttle: LoginThrottle) -> None:
    # when
    for _ in range(100):
        throttle.refund(throttle.reserve("192.0.2.1", "owner"))
    # then
    _fail(throttle, "192.0.2.1", "owner", 2)


def test_attempts_in_flight_count_against_the_allowance(throttle: LoginThrottle) -> None:
    # given: two attempts reserved and not yet answered
    throttle.reserve("192.0.2.1", "owner")
    throttle.reserve("192.0.2.1", "owner")
    # when / then
    with pytest.raises(RateLimited):
        throttle.reserve("192.0.2.1", "owner")


def test_a_refused_attempt_charges_nothing(throttle: LoginThrottle) -> None:
    # given: the pair is spent, so attempts for it are refused
    _fail(throttle, "192.0.2.1", "owner", 2)
    for _ in range(10):
        with pytest.raises(RateLimited):
            throttle.reserve("192.0.2.1", "owner")
    # when / then: the source still has the rest of its allowance
    _fail(throttle, "192.0.2.1", "other", 2)


def test_the_allowance_refills_over_the_window(throttle: LoginThrottle, clock: FixedClock) -> None:
    # given
    _fail(throttle, "192.0.2.1", "owner", 2)
    # when
    clock.advance(timedelta(seconds=30))
    # then
    _fail(throttle, "192.0.2.1", "owner", 1)
    with pytest.raises(RateLimited):
        throttle.reserve("192.0.2.1", "owner")


@pytest.mark.parametrize(
    ("peer", "source"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("unknown", "unknown"),
    ],
)
def test_an_ipv6_source_is_its_64_network(peer: str, source: str) -> None:
    assert source_of(peer) == source


def test_a_flood_of_new_sources_does_not_wipe_out_a_throttled_one(clock: FixedClock) -> None:
    # given: a full table, one of whose sources is throttled
    throttle = LoginThrottle(POLICY, clock, max_tracked=10)
    _fail(throttle, "192.0.2.1", "owner", 2)
    # when: many more sources fail once each, each leaving a bucket that is not full
    for host in range(100):
        _fail(throttle, f"198.51.100.{host}", "owner", 1)
    # then
    with pytest.raises(RateLimited):
        throttle.reserve("192.0.2.1", "owner")
