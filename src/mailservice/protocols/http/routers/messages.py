"""The agent read API: Authorization: Bearer <access_token>."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Response

from mailservice.domain.search import MessageQuery, parse_moment, parse_query
from mailservice.protocols.http.auth import BearerMailbox
from mailservice.protocols.http.concurrency import without_request_slot
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.message_schemas import message_out
from mailservice.protocols.http.schemas import error_responses
from mailservice.services.inbox import MAX_PAGE, MAX_WAIT_SECONDS
from mailservice.wire.messages import (
    MessageEnvelope,
    MessageListOut,
    MessagePatch,
    SafeTextOut,
    Uid,
    UidCursor,
    WaitOut,
)

router = APIRouter(tags=["messages"])

_ERRORS = error_responses(400, 401, 404, 409)
Q_HELP = (
    "Search: from:, to:, subject:, has:attachment, is:unread, is:read, is:flagged, is:verified, "
    "from-verified:DOMAIN (an authenticated From domain or its subdomains), tag:, before:, after: "
    '(YYYY-MM-DD or ISO date-time) and free words over subject and text; values may be "quoted"; all must match.'
)


@router.get("/v1/messages", responses=_ERRORS)
async def list_messages(
    mailbox: BearerMailbox,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    after_uid: Annotated[UidCursor | None, Query(description="Oldest first, after this uid")] = None,
    before_uid: Annotated[Uid | None, Query(description="Newest first, before this uid")] = None,
    unread_only: bool = False,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        str | None, Query(max_length=64, description="YYYY-MM-DD (UTC) or ISO date-time, like after:")
    ] = None,
    q: Annotated[str | None, Query(max_length=500, description=Q_HELP)] = None,
    include_text: bool = False,
) -> MessageListOut:
    """Newest first by default; pass `after_uid` to page oldest first (no gaps while mail arrives)."""
    query = _query(q, unread_only, tag, since)
    found = await services.inbox.find(mailbox, query, limit, after_uid, before_uid, with_text=include_text)
    full = len(found) == limit
    oldest_first = after_uid is not None
    return MessageListOut(
        messages=[message_out(m, include_text) for m in found],
        next_after_uid=(found[-1].uid if found else after_uid) if oldest_first else None,
        next_before_uid=found[-1].uid if full and not oldest_first else None,
    )


@router.get("/v1/messages/wait", responses=_ERRORS, dependencies=[without_request_slot()])
async def wait_for_message(
    mailbox: BearerMailbox,
    services: ServicesDep,
    after_uid: Annotated[
        UidCursor | None,
        Query(description="Only a message after this uid. Default: the newest unread match, else the next"),
    ] = None,
    wait_seconds: Annotated[float, Query(alias="timeout", ge=0, le=MAX_WAIT_SECONDS)] = 30.0,
    q: Annotated[str | None, Query(max_length=500, description=Q_HELP)] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=64, description="Only mail received from then on (ISO date-time): when the flow began"
        ),
    ] = None,
) -> WaitOut:
    """Long poll. Without `after_uid`: the newest unread message matching `q` (and `since`) that already
    arrived, else the first one to arrive; with it, the first after it. timed_out after `timeout` s."""
    started = None if since is None else parse_moment(since, "since")
    found = await services.inbox.wait(mailbox, after_uid, wait_seconds, parse_query(q), started)
    if found is None:
        return WaitOut(timed_out=True)
    return WaitOut(timed_out=False, message=message_out(found, include_text=True))


@router.get("/v1/messages/{uid}", responses=_ERRORS)
async def get_message(
    uid: Uid, mailbox: BearerMailbox, services: ServicesDep, mark_seen: bool = False
) -> MessageEnvelope:
    message = await services.inbox.get(mailbox, uid, mark_seen=mark_seen)
    return MessageEnvelope(message=message_out(message, include_text=True))


@router.get("/v1/messages/{uid}/safe", responses=_ERRORS)
async def get_safe_text(
    uid: Uid,
    mailbox: BearerMailbox,
    services: ServicesDep,
    max_chars: Annotated[int, Query(ge=100, le=200_000)] = 20_000,
) -> SafeTextOut:
    """Visible text only, quoted history trimmed, links numbered: for a language model. Untrusted data."""
    view = await services.inbox.safe_text(mailbox, uid, max_chars)
    return SafeTextOut(uid=uid, text=view.text, links=view.links, truncated=view.truncated)


@router.get("/v1/messages/{uid}/raw", responses=_ERRORS, response_class=Response)
async def get_raw(uid: Uid, mailbox: BearerMailbox, services: ServicesDep) -> Response:
    return Response(await services.inbox.raw(mailbox, uid), media_type="message/rfc822")


@router.get("/v1/messages/{uid}/attachments/{part}", responses=_ERRORS, response_class=Response)
async def get_attachment(uid: Uid, part: str, mailbox: BearerMailbox, services: ServicesDep) -> Response:
    attachment = await services.inbox.attachment(mailbox, uid, part)
    filename = (attachment.filename or f"part-{part}").replace('"', "").replace("\r", "").replace("\n", "")
    return Response(
        attachment.content,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename.encode("ascii", "replace").decode()}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.patch("/v1/messages/{uid}", responses=_ERRORS)
async def update_message(
    uid: Uid, body: MessagePatch, mailbox: BearerMailbox, services: ServicesDep
) -> MessageEnvelope:
    message = await services.inbox.update(mailbox, uid, seen=body.seen, flagged=body.flagged)
    return MessageEnvelope(message=message_out(message, include_text=False))


@router.delete("/v1/messages/{uid}", status_code=204, responses=_ERRORS, response_class=Response)
async def delete_message(uid: Uid, mailbox: BearerMailbox, services: ServicesDep) -> Response:
    await services.inbox.delete(mailbox, uid)
    return Response(status_code=204)


def _query(q: str | None, unread_only: bool, tag: str | None, since: str | None) -> MessageQuery:
    query = parse_query(q)
    if unread_only:
        query = replace(query, unread=True)
    if tag:
        query = replace(query, tag=tag.lower())
    if since is not None:
        query = replace(query, after=parse_moment(since, "since"))
    return query
