"""The middleware around every request, outermost first: metrics, the concurrency limit, rate limits."""

from __future__ import annotations

from fastapi import FastAPI

from mailservice.config import Settings
from mailservice.protocols.http.concurrency import ConcurrencyLimitMiddleware
from mailservice.protocols.http.metrics import MetricsMiddleware
from mailservice.protocols.http.rate_limit import RateLimitMiddleware
from mailservice.services.rate_limiter import RateLimiter
from mailservice.services.registry import Services


def install_guards(app: FastAPI, services: Services, settings: Settings) -> None:
    # add_middleware wraps what is there, so the last one added runs first.
    app.add_middleware(
        RateLimitMiddleware, limiter=RateLimiter(settings.rate_limit_per_minute, services.clock)
    )
    app.add_middleware(ConcurrencyLimitMiddleware, limit=settings.max_concurrent_requests)
    app.add_middleware(MetricsMiddleware, metrics=services.admin.http_metrics)
