"""The legacy account flow: accounts, token refresh and recovery by a one-time e-mailed link."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mailservice.domain.errors import AuthenticationFailed
from mailservice.protocols.http.account_schemas import account_out
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.pages import page_security_headers, render_page
from mailservice.protocols.http.rate_limit import rate_limited
from mailservice.protocols.http.schemas import error_responses
from mailservice.wire.accounts import (
    AccountOut,
    CreateAccountRequest,
    RecoveryCompleteRequest,
    RecoveryStartRequest,
    RefreshRequest,
)
from mailservice.wire.common import StatusResponse

router = APIRouter(tags=["accounts (legacy)"])

EMAIL_SENT_IF_EXISTS = "email_sent_if_exists"


@router.post(
    "/v1/accounts",
    status_code=201,
    responses={202: {"model": StatusResponse}, **error_responses(400)},
    dependencies=[rate_limited("accounts")],
)
async def create_account(body: CreateAccountRequest, services: ServicesDep) -> Response:
    """201 with the tokens (shown once); 202 when the e-mail has an account (a recovery link is sent)."""
    credentials = await services.accounts.create(body.owner_email)
    if credentials is None:
        return JSONResponse({"status": EMAIL_SENT_IF_EXISTS}, status_code=202)
    return JSONResponse(account_out(credentials).model_dump(mode="json"), status_code=201)


@router.post("/v1/auth/refresh", responses=error_responses(400, 401), dependencies=[rate_limited("accounts")])
async def refresh(body: RefreshRequest, services: ServicesDep) -> AccountOut:
    """A refresh token works once: it returns a new api token and a new refresh token (30 days)."""
    return account_out(await services.accounts.refresh(body.refresh_token))


@router.post(
    "/v1/accounts/recovery/start",
    status_code=202,
    responses=error_responses(400),
    dependencies=[rate_limited("recovery")],
)
async def start_recovery(body: RecoveryStartRequest, services: ServicesDep) -> StatusResponse:
    """Always 202; the owner gets a one-time link (10 minutes), at most one per minute."""
    await services.accounts.start_recovery(body.owner_email)
    return StatusResponse(status=EMAIL_SENT_IF_EXISTS)


@router.post(
    "/v1/accounts/recovery/complete",
    responses=error_responses(400, 401),
    dependencies=[rate_limited("recovery")],
)
async def complete_recovery(body: RecoveryCompleteRequest, services: ServicesDep) -> AccountOut:
    """Spend the recovery token: new tokens, every older refresh token revoked."""
    return account_out(await services.accounts.complete_recovery(body.token))


@router.get(
    "/v1/accounts/recovery/complete",
    response_class=HTMLResponse,
    responses={401: {"description": "The link is not valid (any more): a page that says so"}},
    dependencies=[rate_limited("recovery")],
)
async def recovery_page(
    services: ServicesDep, token: Annotated[str, Query(max_length=200)] = ""
) -> HTMLResponse:
    """A confirmation page with a button; opening the link (as a mail scanner does) spends nothing."""
    if not token or not await services.accounts.recovery_code_usable(token):
        return _page("recovery_invalid.html", {}, 401)
    return _page("recovery_confirm.html", {"token": token}, 200)


@router.post(
    "/v1/accounts/recovery/confirm",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[rate_limited("recovery")],
)
async def confirm_recovery(request: Request, services: ServicesDep) -> HTMLResponse:
    """The confirmation page's button (a form post): spends the token and shows the new tokens once."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0]
    try:
        credentials = await services.accounts.complete_recovery(token)
    except AuthenticationFailed:
        return _page("recovery_invalid.html", {}, 401)
    return _page("recovery_done.html", account_out(credentials).model_dump(mode="json"), 200)


def _page(template: str, values: dict[str, object], status_code: int) -> HTMLResponse:
    response = render_page(template, values, status_code)
    response.headers.update(page_security_headers())
    return response
