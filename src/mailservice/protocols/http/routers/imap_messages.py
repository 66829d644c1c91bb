"""The seed's read endpoints, kept: access_token in the JSON body (a Bearer header works too)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mailservice.domain.search import MessageQuery
from mailservice.protocols.http.auth import bearer_token, mailbox_of
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.message_schemas import message_out
from mailservice.protocols.http.schemas import error_responses
from mailservice.services.inbox import MAX_PAGE
from mailservice.wire.messages import MessageEnvelope, MessageListOut, SeedGetRequest, SeedListRequest

router = APIRouter(tags=["messages"])

_ERRORS = error_responses(400, 401, 404, 409)
DEFAULT_LIMIT = 20


@router.post("/v1/imap/messages", responses=_ERRORS)
async def list_imap_messages(
    body: SeedListRequest, request: Request, services: ServicesDep
) -> MessageListOut:
    """Newest first. Reading marks nothing seen unless `mark_seen` is true."""
    mailbox = await mailbox_of(services, body.access_token or bearer_token(request))
    limit = DEFAULT_LIMIT if body.limit <= 0 else min(body.limit, MAX_PAGE)
    query = MessageQuery(unread=True) if body.unread_only else MessageQuery()
    found = await services.inbox.find(mailbox, query, limit, with_text=body.include_body)
    if body.mark_seen and found:
        await services.inbox.mark_seen(mailbox, [m.uid for m in found])
        found = [await services.inbox.get(mailbox, m.uid) for m in found]
    return MessageListOut(messages=[message_out(m, body.include_body) for m in found])


@router.post("/v1/imap/messages/get", responses=_ERRORS)
async def get_imap_message(body: SeedGetRequest, request: Request, services: ServicesDep) -> MessageEnvelope:
    mailbox = await mailbox_of(services, body.access_token or bearer_token(request))
    message = await services.inbox.get(mailbox, body.uid, mark_seen=body.mark_seen)
    return MessageEnvelope(message=message_out(message, body.include_body))
