"""Where buyers land after paying (or not): the provider is asked live, never the redirect trusted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from mailservice.config import Settings
from mailservice.domain.errors import DomainError, NotFound, NotPaidYet
from mailservice.domain.timestamps import rfc3339_or_none
from mailservice.protocols.http.dependencies import ServicesDep, SettingsDep
from mailservice.protocols.http.errors import error_body, status_of
from mailservice.protocols.http.pages import page_security_headers, render_page, wants_html
from mailservice.protocols.http.schemas import page_responses
from mailservice.services.registry import Services
from mailservice.wire.common import Identifier

router = APIRouter(tags=["payments"])

_TITLES = {
    "paid": "Payment received",
    "waiting": "Payment not complete yet",
    "canceled": "Payment canceled",
    "received": "Thank you",
    "unknown": "Payment not found",
    "unavailable": "Payment provider unavailable",
}


@router.get("/v1/payments/polar/success", responses=page_responses(404, 409, 502))
async def polar_success(
    request: Request,
    services: ServicesDep,
    settings: SettingsDep,
    checkout_id: Annotated[Identifier, Query()],
) -> Response:
    """Polar's success redirect: 200 once Polar says the checkout is paid (applied then), 409 until then."""
    return await _confirm(request, services, settings, checkout_id)


@router.get("/payment/success", responses=page_responses(404, 409, 502))
async def payment_success(
    request: Request,
    services: ServicesDep,
    settings: SettingsDep,
    session_id: Annotated[Identifier | None, Query()] = None,
) -> Response:
    """Stripe's success redirect: like Polar's when it names the session, a thank-you page otherwise."""
    if not session_id:
        return _answer(request, "received", {"status": "pending_confirmation"})
    return await _confirm(request, services, settings, session_id)


@router.get("/payment/cancel", responses=page_responses())
async def payment_cancel(request: Request) -> Response:
    return _answer(request, "canceled", {"status": "canceled"})


async def _confirm(request: Request, services: Services, settings: Settings, checkout_id: str) -> Response:
    try:
        mailbox = await services.payments.confirm(checkout_id)
    except NotPaidYet as error:
        return _answer(request, "waiting", error_body(error.message, error.code, **error.details), 409)
    except NotFound as error:
        return _answer(request, "unknown", error_body(error.message, error.code), 404)
    except DomainError as error:
        return _answer(request, "unavailable", error_body(error.message, error.code), status_of(error))
    return _answer(
        request,
        "paid",
        {
            "status": "paid",
            "mailbox_id": mailbox.id,
            "email": mailbox.address(settings.mail_domain),
            "expires_at": rfc3339_or_none(mailbox.expires_at),
        },
    )


def _answer(request: Request, state: str, payload: dict[str, Any], status_code: int = 200) -> Response:
    if not wants_html(request):
        return JSONResponse(payload, status_code=status_code)
    page = render_page(
        "payment_result.html", {"state": state, "title": _TITLES[state], **payload}, status_code
    )
    page.headers.update(page_security_headers())
    return page
