"""The mock payment page: only mounted when payments run in mock mode."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from mailservice.domain.errors import NotFound
from mailservice.domain.timestamps import rfc3339_or_none
from mailservice.protocols.http.dependencies import ServicesDep, SettingsDep
from mailservice.protocols.http.errors import error_body
from mailservice.protocols.http.pages import render_page, wants_html
from mailservice.protocols.http.schemas import page_responses
from mailservice.wire.common import Identifier

router = APIRouter(tags=["payments"])


@router.get("/mock/pay/{checkout_id}", responses=page_responses(404))
async def mock_pay(
    checkout_id: Identifier, request: Request, services: ServicesDep, settings: SettingsDep
) -> Response:
    """Opening the link pays the checkout; opening it again changes nothing."""
    try:
        mailbox = await services.payments.complete(checkout_id)
    except NotFound as error:
        if wants_html(request):
            return render_page("mock_payment.html", {"found": False}, status_code=404)
        return JSONResponse(error_body(error.message, error.code), status_code=404)
    payload = {
        "status": "paid",
        "mailbox_id": mailbox.id,
        "email": mailbox.address(settings.mail_domain),
        "expires_at": rfc3339_or_none(mailbox.expires_at),
    }
    if wants_html(request):
        return render_page("mock_payment.html", {"found": True, **payload})
    return JSONResponse(payload)
