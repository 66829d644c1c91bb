"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: it can take more work)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mailservice.protocols.http.concurrency import without_request_slot
from mailservice.protocols.http.dependencies import ServicesDep, SettingsDep
from mailservice.protocols.http.errors import error_response
from mailservice.protocols.http.load import HttpLoad
from mailservice.protocols.http.schemas import error_responses
from mailservice.wire.common import StatusResponse

router = APIRouter(tags=["health"], dependencies=[without_request_slot()])
log = logging.getLogger(__name__)


class ReadyResponse(BaseModel):
    status: str
    requests_in_flight: int
    max_concurrent_requests: int
    reading_bodies: int
    database_ms: float


@router.get("/healthz")
async def healthz() -> StatusResponse:
    return StatusResponse(status="ok")


@router.get("/readyz", response_model=ReadyResponse, responses=error_responses(503))
async def readyz(
    request: Request, services: ServicesDep, settings: SettingsDep
) -> ReadyResponse | JSONResponse:
    """200 with the figures below; 503 when every request slot is taken or the database does not answer."""
    load: HttpLoad = request.app.state.http_load
    figures: dict[str, Any] = {
        "requests_in_flight": load.requests_in_flight,
        "max_concurrent_requests": load.max_concurrent_requests,
        "reading_bodies": load.reading_bodies,
    }
    try:
        async with asyncio.timeout(settings.readiness_timeout_seconds):
            seconds = await services.admin.store_round_trip()
    except Exception as error:  # whatever the driver raises, the answer is the same: not ready
        log.warning("readiness.database_unavailable error=%s", type(error).__name__)
        return error_response(503, "the database does not answer", "not_ready", **figures)
    if load.saturated:
        return error_response(503, "every request slot is taken", "not_ready", **figures)
    return ReadyResponse(status="ready", database_ms=round(seconds * 1000, 3), **figures)
