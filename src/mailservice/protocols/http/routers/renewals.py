"""Renewal of a key-bound mailbox: a payment link for one more month, proven by the mailbox's key."""

from __future__ import annotations

from fastapi import APIRouter

from mailservice.protocols.http.dependencies import ServicesDep, SettingsDep
from mailservice.protocols.http.outcomes import KEY_PROOF, counted_as
from mailservice.protocols.http.rate_limit import rate_limited
from mailservice.protocols.http.schemas import error_responses
from mailservice.wire.mailboxes import ClaimResponse, RenewRequest

router = APIRouter(tags=["mailboxes"])


@router.post(
    "/v1/mailboxes/renew",
    responses=error_responses(400, 401, 404, 502),
    dependencies=[rate_limited("claim"), counted_as(KEY_PROOF)],
)
async def renew_mailbox(body: RenewRequest, services: ServicesDep, settings: SettingsDep) -> ClaimResponse:
    """A payment link that adds one month from the later of now and the current expiry.

    Works for an active or expired mailbox (a never-paid one gets its first checkout, as a claim would);
    the link goes to `billing_email` or, without one, to the stored billing e-mail. An open renewal
    checkout is reused. Until it is paid the mailbox keeps its current status, expiry and access token.
    """
    result = await services.renewals.renew(body.proof(), body.billing_email)
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
