"""The global concurrency limit: a request beyond MAX_CONCURRENT_REQUESTS in flight is refused at once.

Refused requests get 503 with `Retry-After: N` and `retry_after_seconds: N`, N random in 3..100, so that
clients that were refused together do not come back together. Liveness checks and the long-lived read
endpoints (a long poll, an event stream) are not counted: they mostly wait, and must not starve the rest.
"""

from __future__ import annotations

import json
import random

from starlette.types import ASGIApp, Receive, Scope, Send

RETRY_AFTER_RANGE = (3, 100)
EXEMPT_PATHS = frozenset({"/healthz", "/v1/messages/wait", "/v1/events", "/mcp"})


class ConcurrencyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        exempt: frozenset[str] = EXEMPT_PATHS,
        rng: random.Random | None = None,
    ) -> None:
        self._app = app
        self._limit = limit
        self._exempt = exempt
        self._rng = rng or random.Random()
        self._in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._limit <= 0 or scope["path"] in self._exempt:
            await self._app(scope, receive, send)
            return
        if self._in_flight >= self._limit:
            await self._refuse(send)
            return
        self._in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        seconds = self._rng.randint(*RETRY_AFTER_RANGE)
        payload = json.dumps(
            {
                "error": f"concurrency limit reached, please try again in {seconds} seconds",
                "code": "busy",
                "retry_after_seconds": seconds,
            }
        ).encode()
        await send_json(send, 503, payload, seconds)


async def send_json(send: Send, status: int, payload: bytes, retry_after: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
