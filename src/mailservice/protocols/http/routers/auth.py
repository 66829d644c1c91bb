from __future__ import annotations

from fastapi import APIRouter

from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.rate_limit import rate_limited
from mailservice.protocols.http.schemas import error_responses
from mailservice.wire.mailboxes import ChallengeRequest, ChallengeResponse

router = APIRouter(tags=["identity"])


@router.post(
    "/v1/auth/challenge",
    responses=error_responses(400),
    # A challenge precedes every claim and resolve, so it costs half.
    dependencies=[rate_limited("challenge", cost=0.5)],
)
async def issue_challenge(body: ChallengeRequest, services: ServicesDep) -> ChallengeResponse:
    """A single-use challenge for the key; sign it with `ssh-keygen -Y sign -n edproof`."""
    challenge = services.proofs.issue_challenge(body.public_key)
    return ChallengeResponse(challenge=challenge.text, expires_in=challenge.expires_in)
