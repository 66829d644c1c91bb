"""Operator endpoints: metrics (JSON and Prometheus), mailbox reprovisioning, payment reconciliation."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from mailservice.protocols.http.admin_auth import AdminCaller
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.schemas import error_responses
from mailservice.wire.common import Identifier, StrictRequest

router = APIRouter(tags=["admin"], responses=error_responses(401, 503))


class ReprovisionRequest(StrictRequest):
    mailbox_id: Identifier | None = Field(default=None, description="Default: every mailbox")
    rotate_credentials: bool = Field(default=False, description="New IMAP password and access token")


class ReprovisionOut(BaseModel):
    status: str
    checked: int
    inboxes_created: int
    expired: int
    credentials_rotated: int


class ReconcileOut(BaseModel):
    status: str
    provider: str
    checked: int
    applied: int
    still_open: int
    expired: int
    failed: int
    skipped: int


@router.get("/admin/metrics")
async def admin_metrics(_admin: AdminCaller, services: ServicesDep) -> dict[str, object]:
    """Counts across the store and this node's HTTP requests, latency percentiles (ms) and top errors."""
    return await services.admin.snapshot()


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus_metrics(
    _admin: AdminCaller, services: ServicesDep, request: Request
) -> PlainTextResponse:
    """Prometheus text format (OpenMetrics when asked); scrape with `authorization: {credentials: <ADMIN_API_KEY>}`."""
    body, content_type = await services.admin.scrape(request.headers.get("accept", ""))
    return PlainTextResponse(body, headers={"content-type": content_type})


@router.post("/admin/mailboxes/reprovision", responses=error_responses(400, 404))
async def reprovision(
    _admin: AdminCaller, services: ServicesDep, body: ReprovisionRequest | None = None
) -> ReprovisionOut:
    """Give mailboxes their INBOX, apply lapsed expiries, and optionally rotate credentials."""
    request = body or ReprovisionRequest()
    result = await services.admin.reprovision(request.mailbox_id, request.rotate_credentials)
    return ReprovisionOut(status="ok", **asdict(result))


@router.post("/admin/payments/reconcile")
async def reconcile_payments(_admin: AdminCaller, services: ServicesDep) -> ReconcileOut:
    """Ask the payment provider about every checkout still open here; apply the paid ones (once each).

    `expired` counts checkouts the provider reports expired, failed or unknown (recorded, never asked
    again); `failed` those it could not answer about now; `skipped` those of another provider.
    """
    result = await services.reconciler.reconcile()
    return ReconcileOut(status="ok", provider=services.payments.provider, **asdict(result))
