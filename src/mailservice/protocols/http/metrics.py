"""Records every HTTP request's route template, status and duration."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailservice.protocols.http.outcomes import outcome_kinds
from mailservice.services.metrics import HttpSeries

UNMATCHED = "(unmatched)"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpSeries) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", UNMATCHED)
            self._metrics.record(
                scope["method"], path, status, time.perf_counter() - started, outcome_kinds(route)
            )
