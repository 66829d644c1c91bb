"""The global concurrency limit: a request beyond MAX_CONCURRENT_REQUESTS in flight is refused at once.

Refused requests get 503 with `Retry-After: N` and `retry_after_seconds: N`, N random in 3..100, so that
clients that were refused together do not come back together. The slot is an app-wide dependency, so it
is taken only once the request is routed and its body read (request_body.py reads it first): slow clients
cannot hold slots. Health checks and the long-lived read endpoints (a long poll, an event stream) say
`dependencies=[without_request_slot()]`: they mostly wait, and must not starve the rest.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.params import Depends as DependsParam

from mailservice.domain.errors import Busy
from mailservice.protocols.http.load import HttpLoad

RETRY_AFTER_RANGE = (3, 100)


class RequestSlot:
    """Holds one of the MAX_CONCURRENT_REQUESTS slots while the route's handler runs."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    async def __call__(self, request: Request) -> AsyncIterator[None]:
        if not takes_request_slot(request.scope.get("route")):
            yield
            return
        load: HttpLoad = request.app.state.http_load
        if load.saturated:
            seconds = self._rng.randint(*RETRY_AFTER_RANGE)
            message = f"concurrency limit reached, please try again in {seconds} seconds"
            raise Busy(message, retry_after_seconds=seconds)
        load.requests_in_flight += 1
        try:
            yield
        finally:
            load.requests_in_flight -= 1


class WithoutRequestSlot:
    """A dependency that does nothing when called: it marks a route as outside the slots."""

    async def __call__(self) -> None:
        return None


def request_slot() -> DependsParam:
    # "function": the slot is given back when the handler returns, not after a slow reader took the answer.
    return DependsParam(dependency=RequestSlot(), scope="function")


def without_request_slot() -> DependsParam:
    return DependsParam(dependency=WithoutRequestSlot())


def takes_request_slot(route: object) -> bool:
    """False for a route marked without_request_slot(); routes that are not FastAPI's never get here."""
    return not any(
        isinstance(dependency.dependency, WithoutRequestSlot)
        for dependency in getattr(route, "dependencies", ())
    )
