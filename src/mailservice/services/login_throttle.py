"""Throttling IMAP and POP3 logins: failures are charged to where they come from, never to the mailbox.

A mailbox address is public (it receives mail), so a limit on failures per login would let anyone lock
its owner out. Nothing here counts per login alone: a source address has an allowance of failures, and so
does each (source, login) pair, both refilling over a window. Guessing gains nothing from spreading over
addresses: the mail password is 256 bits derived from the secret key. What the throttle bounds is the
work one source can make us do, and the noise one user behind a shared address can make for the others.

An attempt takes its charge before the password is checked and gets it back when the password turns out
right (or could not be checked), so attempts running in parallel can never be more than the allowance.
The counts live in this process; with N nodes a source gets up to N times the allowance.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailservice.domain.errors import RateLimited
from mailservice.ports import Clock
from mailservice.services.rate_limiter import MAX_TRACKED_CLIENTS, RateLimiter, source_of

_SOURCE = "login-source"
_SOURCE_LOGIN = "login-source-login"


@dataclass(frozen=True)
class LoginThrottlePolicy:
    failures_per_source: int = 20
    failures_per_source_login: int = 5
    window_seconds: float = 300.0


@dataclass(frozen=True)
class LoginAttempt:
    """The charge one login attempt holds until it is known to have failed."""

    source: str
    source_login: str


class LoginThrottle:
    """Reserve an attempt before checking a password; refund it when the password was right."""

    def __init__(
        self, policy: LoginThrottlePolicy, clock: Clock, max_tracked: int = MAX_TRACKED_CLIENTS
    ) -> None:
        self._sources = RateLimiter(
            policy.failures_per_source, clock, max_tracked, period_seconds=policy.window_seconds
        )
        self._source_logins = RateLimiter(
            policy.failures_per_source_login, clock, max_tracked, period_seconds=policy.window_seconds
        )

    def reserve(self, peer: str, login: str) -> LoginAttempt:
        """Take one failure's charge from the source and the pair; raise RateLimited if either is spent."""
        source = source_of(peer)
        attempt = LoginAttempt(source, f"{source} {login}")
        wait = self._sources.acquire(_SOURCE, attempt.source)
        if wait is None:
            wait = self._source_logins.acquire(_SOURCE_LOGIN, attempt.source_login)
            if wait is not None:
                self._sources.refund(_SOURCE, attempt.source)
        if wait is not None:
            unit = "second" if wait == 1 else "seconds"
            raise RateLimited(f"too many failed logins from this address; try again in {wait} {unit}")
        return attempt

    def refund(self, attempt: LoginAttempt) -> None:
        self._sources.refund(_SOURCE, attempt.source)
        self._source_logins.refund(_SOURCE_LOGIN, attempt.source_login)
