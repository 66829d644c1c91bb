"""Payment provider webhooks: the raw body goes to the service, which verifies it before anything else."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.schemas import error_responses

router = APIRouter(tags=["payments"])


class WebhookResponse(BaseModel):
    status: str
    """`processed`, `ignored` (verified, nothing to change) or `duplicate` (already processed)."""


@router.post("/v1/webhooks/polar", responses=error_responses(401, 502, 503))
async def polar_webhook(request: Request, services: ServicesDep) -> WebhookResponse:
    """Standard Webhooks signed (POLAR_WEBHOOK_SECRET); each event id is applied once."""
    outcome = await services.payment_webhooks.receive("polar", await request.body(), request.headers)
    return WebhookResponse(status=outcome.value)


@router.post("/v1/webhooks/stripe", responses=error_responses(401, 503))
async def stripe_webhook(request: Request, services: ServicesDep) -> WebhookResponse:
    """`Stripe-Signature` signed (STRIPE_WEBHOOK_SECRET); only paid checkout sessions activate."""
    outcome = await services.payment_webhooks.receive("stripe", await request.body(), request.headers)
    return WebhookResponse(status=outcome.value)
