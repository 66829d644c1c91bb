"""Per-IP rate limits on the endpoints that prove keys, hand out access or send e-mail."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from mailservice.protocols.http.errors import error_response
from mailservice.services.rate_limiter import RateLimiter

# (method, path) -> (group, cost). A challenge precedes every claim and resolve, so it costs half.
LIMITED: dict[tuple[str, str], tuple[str, float]] = {
    ("POST", "/v1/auth/challenge"): ("challenge", 0.5),
    ("POST", "/v1/mailboxes/claim"): ("claim", 1.0),
    ("POST", "/v1/mailboxes/renew"): ("claim", 1.0),
    ("POST", "/v1/access/resolve"): ("resolve", 1.0),
    ("POST", "/v1/imap/resolve"): ("resolve", 1.0),
    ("POST", "/v1/accounts"): ("accounts", 1.0),
    ("POST", "/v1/auth/refresh"): ("accounts", 1.0),
    ("POST", "/v1/accounts/recovery/start"): ("recovery", 1.0),
    ("POST", "/v1/accounts/recovery/complete"): ("recovery", 1.0),
    ("GET", "/v1/accounts/recovery/complete"): ("recovery", 1.0),
    ("POST", "/v1/accounts/recovery/confirm"): ("recovery", 1.0),
    ("POST", "/v1/support/messages"): ("support", 1.0),
}


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self._app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limited = (
            LIMITED.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        )
        if limited is None or not self._limiter.enabled:
            await self._app(scope, receive, send)
            return
        group, cost = limited
        client = scope.get("client")
        wait = self._limiter.acquire(group, client[0] if client else "unknown", cost)
        if wait is None:
            await self._app(scope, receive, send)
            return
        response = error_response(
            429,
            f"too many requests, try again in {wait} second{'' if wait == 1 else 's'}",
            "rate_limited",
            headers={"Retry-After": str(wait)},
            retry_after_seconds=wait,
        )
        await response(scope, receive, send)
