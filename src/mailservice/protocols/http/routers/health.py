from __future__ import annotations

from fastapi import APIRouter

from mailservice.protocols.http.schemas import StatusResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> StatusResponse:
    return StatusResponse(status="ok")
