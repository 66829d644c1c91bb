from __future__ import annotations

from fastapi import APIRouter, Response

from mailservice.protocols.http.dependencies import ServicesDep, SettingsDep
from mailservice.protocols.http.outcomes import KEY_PROOF, RESOLVE, counted_as
from mailservice.protocols.http.rate_limit import rate_limited
from mailservice.protocols.http.schemas import error_responses
from mailservice.wire.mailboxes import ClaimRequest, ClaimResponse, ResolveRequest, ResolveResponse

router = APIRouter(tags=["mailboxes"])

_ERRORS = error_responses(400, 401)


@router.post(
    "/v1/mailboxes/claim",
    status_code=200,
    responses={201: {"model": ClaimResponse}, **_ERRORS},
    dependencies=[rate_limited("claim"), counted_as(KEY_PROOF)],
)
async def claim_mailbox(
    body: ClaimRequest, response: Response, services: ServicesDep, settings: SettingsDep
) -> ClaimResponse:
    """Create the key's mailbox (201) or return it (200); unpaid, its payment link goes to billing_email."""
    result = await services.mailboxes.claim(body.billing_email, body.proof())
    response.status_code = 201 if result.created else 200
    mailbox = result.mailbox
    return ClaimResponse(
        id=mailbox.id,
        status=mailbox.status.value,
        usable=result.usable,
        email=mailbox.address(settings.mail_domain),
        payment_url=result.payment_url,
        expires_at=mailbox.expires_at,
        access_token=result.access_token,
    )


@router.post(
    "/v1/access/resolve",
    responses=error_responses(400, 401, 404, 409),
    dependencies=[rate_limited("resolve"), counted_as(KEY_PROOF, RESOLVE)],
)
async def resolve_access(body: ResolveRequest, services: ServicesDep) -> ResolveResponse:
    """IMAP details and the HTTP access token of a paid mailbox, by key proof."""
    access = await services.mailboxes.resolve(body.protocol, body.proof())
    return ResolveResponse(
        mailbox_id=access.mailbox.id,
        host=access.host,
        port=access.port,
        username=access.username,
        password=access.password,
        email=access.email,
        access_token=access.access_token,
        expires_at=access.mailbox.expires_at,
    )
