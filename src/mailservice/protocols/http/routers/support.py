"""Support messages from agents, signed with their key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.outcomes import KEY_PROOF, counted_as
from mailservice.protocols.http.rate_limit import rate_limited
from mailservice.protocols.http.schemas import error_responses
from mailservice.services.support import MAX_BODY_CHARS, MAX_SUBJECT_CHARS
from mailservice.wire.common import StatusResponse
from mailservice.wire.mailboxes import KeyProofRequest

router = APIRouter(tags=["support"])


class SupportRequest(KeyProofRequest):
    subject: str = Field(max_length=MAX_SUBJECT_CHARS)
    body: str = Field(max_length=MAX_BODY_CHARS)


@router.post(
    "/v1/support/messages",
    status_code=202,
    responses=error_responses(400, 401, 429, 503),
    dependencies=[rate_limited("support"), counted_as(KEY_PROOF)],
)
async def send_support_message(body: SupportRequest, services: ServicesDep) -> StatusResponse:
    """Forwarded to the operator, reply-to the key's mailbox; at most 3 per key per hour."""
    await services.support.send(body.proof(), body.subject, body.body)
    return StatusResponse(status="queued")
