"""The global concurrency limit: a request beyond MAX_CONCURRENT_REQUESTS in flight is refused at once.

Refused requests get 503 with `Retry-After: N` and `retry_after_seconds: N`, N random in 3..100, so that
clients that were refused together do not come back together. Liveness and readiness checks and the
long-lived read endpoints (a long poll, an event stream) are not counted: they mostly wait, and must not
starve the rest. A slot is taken only once the request body has been read (see request_body.py).
"""

from __future__ import annotations

import random

from starlette.types import ASGIApp, Receive, Scope, Send

from mailservice.protocols.http.errors import error_response
from mailservice.protocols.http.load import HttpLoad

RETRY_AFTER_RANGE = (3, 100)
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/v1/messages/wait", "/v1/events", "/mcp"})


class ConcurrencyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        load: HttpLoad,
        exempt: frozenset[str] = EXEMPT_PATHS,
        rng: random.Random | None = None,
    ) -> None:
        self._app = app
        self._load = load
        self._exempt = exempt
        self._rng = rng or random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._exempt:
            await self._app(scope, receive, send)
            return
        if self._load.saturated:
            await self._refusal()(scope, receive, send)
            return
        self._load.requests_in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._load.requests_in_flight -= 1

    def _refusal(self) -> ASGIApp:
        seconds = self._rng.randint(*RETRY_AFTER_RANGE)
        return error_response(
            503,
            f"concurrency limit reached, please try again in {seconds} seconds",
            "busy",
            headers={"Retry-After": str(seconds)},
            retry_after_seconds=seconds,
        )
