"""The middleware around every request, outermost first: metrics, then reading the body.

The concurrency slot (concurrency.py) and the rate limits (rate_limit.py) are dependencies taken once a
request is routed; what they share across requests is kept here in the app state.
"""

from __future__ import annotations

from fastapi import FastAPI

from mailservice.config import Settings
from mailservice.protocols.http.load import HttpLoad
from mailservice.protocols.http.metrics import MetricsMiddleware
from mailservice.protocols.http.request_body import RequestBodyMiddleware
from mailservice.services.rate_limiter import RateLimiter
from mailservice.services.registry import Services


def install_guards(app: FastAPI, services: Services, settings: Settings) -> None:
    # add_middleware wraps what is there, so the last one added runs first.
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute, services.clock)
    load = HttpLoad(settings.max_concurrent_requests)
    app.state.http_load = load
    app.add_middleware(RequestBodyMiddleware, load=load, timeout_seconds=settings.http_body_timeout_seconds)
    app.add_middleware(MetricsMiddleware, metrics=services.admin.metrics.http)
