from __future__ import annotations

from fastapi import APIRouter

from mailservice.wire.common import StatusResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> StatusResponse:
    return StatusResponse(status="ok")
