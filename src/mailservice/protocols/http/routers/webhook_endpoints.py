"""A mailbox's webhooks: Authorization: Bearer <access_token>."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mailservice.domain.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from mailservice.protocols.http.auth import BearerMailbox
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.rate_limit import rate_limited
from mailservice.protocols.http.schemas import error_responses
from mailservice.services.webhooks import MAX_DELIVERY_PAGE
from mailservice.wire.webhooks import (
    AttemptOut,
    DeliveryId,
    DeliveryListOut,
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookId,
    WebhookListOut,
    WebhookOut,
)

router = APIRouter(tags=["webhooks"])

_ERRORS = error_responses(400, 401, 404, 409)
_CHANGES = [rate_limited("webhooks")]


@router.post("/v1/webhooks", status_code=201, responses=_ERRORS, dependencies=_CHANGES)
async def create_webhook(
    body: WebhookCreate, mailbox: BearerMailbox, services: ServicesDep
) -> WebhookCreated:
    """Register a URL to receive this mailbox's events, signed as Standard Webhooks. Keep `secret`: it is
    shown only now."""
    created = await services.webhooks.register(mailbox, body.url, list(body.events or []), body.q)
    return WebhookCreated(**webhook_out(created.endpoint).model_dump(), secret=created.secret)


@router.get("/v1/webhooks", responses=_ERRORS)
async def list_webhooks(mailbox: BearerMailbox, services: ServicesDep) -> WebhookListOut:
    return WebhookListOut(webhooks=[webhook_out(e) for e in await services.webhooks.endpoints(mailbox)])


@router.get("/v1/webhooks/{webhook_id}", responses=_ERRORS)
async def get_webhook(webhook_id: WebhookId, mailbox: BearerMailbox, services: ServicesDep) -> WebhookOut:
    return webhook_out(await services.webhooks.endpoint(mailbox, webhook_id))


@router.delete(
    "/v1/webhooks/{webhook_id}",
    status_code=204,
    responses=_ERRORS,
    response_class=Response,
    dependencies=_CHANGES,
)
async def delete_webhook(webhook_id: WebhookId, mailbox: BearerMailbox, services: ServicesDep) -> Response:
    await services.webhooks.remove(mailbox, webhook_id)
    return Response(status_code=204)


@router.post("/v1/webhooks/{webhook_id}/enable", responses=_ERRORS, dependencies=_CHANGES)
async def enable_webhook(webhook_id: WebhookId, mailbox: BearerMailbox, services: ServicesDep) -> WebhookOut:
    """Turn a webhook on again after it was turned off for failing for days: what was still pending is
    sent, and new events reach it again. A webhook that is on is left as it is."""
    return webhook_out(await services.webhooks.enable(mailbox, webhook_id))


@router.post("/v1/webhooks/{webhook_id}/test", status_code=202, responses=_ERRORS, dependencies=_CHANGES)
async def test_webhook(webhook_id: WebhookId, mailbox: BearerMailbox, services: ServicesDep) -> DeliveryOut:
    """Queue a `webhook.test` event to this URL now; follow it in its deliveries."""
    return delivery_out(await services.webhooks.send_test(mailbox, webhook_id))


@router.get("/v1/webhooks/{webhook_id}/deliveries", responses=_ERRORS)
async def list_deliveries(
    webhook_id: WebhookId,
    mailbox: BearerMailbox,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERY_PAGE)] = 20,
    before_id: Annotated[DeliveryId | None, Query(description="Older than this delivery")] = None,
) -> DeliveryListOut:
    """Newest first, each with every attempt: time, status code, latency and error."""
    found = await services.webhooks.deliveries(mailbox, webhook_id, limit, before_id)
    return DeliveryListOut(
        deliveries=[delivery_out(d) for d in found],
        next_before_id=found[-1].id if len(found) == limit else None,
    )


@router.post(
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    responses=_ERRORS,
    dependencies=_CHANGES,
)
async def retry_delivery(
    webhook_id: WebhookId, delivery_id: DeliveryId, mailbox: BearerMailbox, services: ServicesDep
) -> DeliveryOut:
    """Send it again now, with the same webhook-id."""
    return delivery_out(await services.webhooks.retry(mailbox, webhook_id, delivery_id))


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        q=endpoint.q,
        created_at=endpoint.created_at,
        disabled_at=endpoint.disabled_at,
    )


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    pending = delivery.status is DeliveryStatus.PENDING
    return DeliveryOut(
        id=delivery.id,
        webhook_id=delivery.message_id,
        event_id=delivery.event_id,
        type=delivery.event_type,
        status=delivery.status.value,
        attempts=[
            AttemptOut(at=a.at, status_code=a.status_code, latency_ms=a.latency_ms, error=a.error)
            for a in delivery.history
        ],
        next_attempt_at=delivery.next_attempt_at if pending else None,
        created_at=delivery.created_at,
    )
