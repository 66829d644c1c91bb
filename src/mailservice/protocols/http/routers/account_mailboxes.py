"""Mailboxes of the legacy account flow (X-API-Token or Bearer api token) and resolve by access token."""

from __future__ import annotations

from fastapi import APIRouter, Response

from mailservice.protocols.http.account_auth import CallingAccount
from mailservice.protocols.http.dependencies import ServicesDep, SettingsDep
from mailservice.protocols.http.outcomes import RESOLVE, counted_as
from mailservice.protocols.http.rate_limit import rate_limited
from mailservice.protocols.http.schemas import error_responses
from mailservice.services.mailboxes import ClaimResult
from mailservice.wire.accounts import AccessTokenRequest, MailboxListOut
from mailservice.wire.common import Identifier
from mailservice.wire.mailboxes import ClaimResponse, ResolveResponse

router = APIRouter(tags=["accounts (legacy)"])


@router.get("/v1/mailboxes", responses=error_responses(401))
async def list_mailboxes(
    account: CallingAccount, services: ServicesDep, settings: SettingsDep
) -> MailboxListOut:
    found = await services.account_mailboxes.list(account)
    return MailboxListOut(items=[_view(result, settings.mail_domain) for result in found])


@router.post(
    "/v1/mailboxes", status_code=200, responses={201: {"model": ClaimResponse}, **error_responses(401)}
)
async def create_mailbox(
    account: CallingAccount, response: Response, services: ServicesDep, settings: SettingsDep
) -> ClaimResponse:
    """201 for a new mailbox; while the account is unpaid, 200 with its mailbox waiting for payment."""
    result = await services.account_mailboxes.create(account)
    response.status_code = 201 if result.created else 200
    return _view(result, settings.mail_domain)


@router.get("/v1/mailboxes/{mailbox_id}", responses=error_responses(401, 403, 404))
async def get_mailbox(
    mailbox_id: Identifier, account: CallingAccount, services: ServicesDep, settings: SettingsDep
) -> ClaimResponse:
    """The mailbox's status; `access_token` (for the read API) while it is usable."""
    return _view(await services.account_mailboxes.get(account, mailbox_id), settings.mail_domain)


@router.post(
    "/v1/imap/resolve",
    responses=error_responses(400, 401, 409),
    dependencies=[rate_limited("resolve"), counted_as(RESOLVE)],
)
async def resolve_by_access_token(body: AccessTokenRequest, services: ServicesDep) -> ResolveResponse:
    """IMAP details of a usable mailbox, by its access token."""
    mailbox = await services.inbox.authenticate(body.access_token)
    access = services.mailboxes.access_details(mailbox)
    return ResolveResponse(
        mailbox_id=mailbox.id,
        host=access.host,
        port=access.port,
        username=access.username,
        password=access.password,
        email=access.email,
        access_token=access.access_token,
        expires_at=mailbox.expires_at,
    )


def _view(result: ClaimResult, mail_domain: str) -> ClaimResponse:
    mailbox = result.mailbox
    return ClaimResponse(
        id=mailbox.id,
        status=mailbox.status.value,
        usable=result.usable,
        email=mailbox.address(mail_domain),
        payment_url=result.payment_url,
        expires_at=mailbox.expires_at,
        access_token=result.access_token,
    )
