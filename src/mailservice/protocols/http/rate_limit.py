"""Per-client rate limits (an IPv4 address, or an IPv6 /64), attached to the routes that prove keys,
hand out access or send e-mail.

A route opts in with `dependencies=[rate_limited("claim")]`; the limit travels with the route, so a
renamed route keeps it. Routes in one group share a bucket per client.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.params import Depends as DependsParam

from mailservice.domain.errors import RateLimited
from mailservice.services.rate_limiter import RateLimiter, source_of


class RateLimit:
    """A FastAPI dependency: one request of `cost` from the caller's address in `group`, or 429."""

    def __init__(self, group: str, cost: float) -> None:
        self.group = group
        self.cost = cost

    async def __call__(self, request: Request) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        if not limiter.enabled:
            return
        peer = request.client.host if request.client else "unknown"
        wait = limiter.acquire(self.group, source_of(peer), self.cost)
        if wait is not None:
            raise RateLimited(
                f"too many requests, try again in {wait} second{'' if wait == 1 else 's'}",
                retry_after_seconds=wait,
            )


def rate_limited(group: str, cost: float = 1.0) -> DependsParam:
    return DependsParam(dependency=RateLimit(group, cost))


def rate_limit_of(route: object) -> RateLimit | None:
    """The limit of a route (as FastAPI serves it, or none), None when it has none."""
    for dependency in getattr(route, "dependencies", ()):
        if isinstance(dependency.dependency, RateLimit):
            return dependency.dependency
    return None
