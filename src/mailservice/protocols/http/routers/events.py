"""Server-Sent Events of new mail, resumable with Last-Event-ID (the uid of the last message seen)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError

from mailservice.domain.errors import InvalidInput
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.messages import MAX_UID, StoredMessage
from mailservice.domain.search import MessageQuery, parse_query
from mailservice.protocols.http.auth import BearerMailbox
from mailservice.protocols.http.concurrency import without_request_slot
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.message_schemas import message_out
from mailservice.protocols.http.routers.messages import Q_HELP
from mailservice.services.inbox import InboxService
from mailservice.wire.messages import UidCursor

router = APIRouter(tags=["messages"])

KEEPALIVE_SECONDS = 15.0  # a variable so tests can shorten it
UID_CURSOR: TypeAdapter[int] = TypeAdapter(UidCursor)


@router.get("/v1/events", response_class=StreamingResponse, dependencies=[without_request_slot()])
async def events(
    mailbox: BearerMailbox,
    services: ServicesDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after_uid: Annotated[UidCursor | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=500, description=Q_HELP)] = None,
) -> StreamingResponse:
    """`message.received` events; `id` is the message uid, so a reconnect with Last-Event-ID misses nothing."""
    resume = _resume_uid(last_event_id, after_uid)
    return StreamingResponse(
        _event_stream(services.inbox, mailbox, resume, parse_query(q)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _resume_uid(last_event_id: str | None, after_uid: int | None) -> int | None:
    """The uid of Last-Event-ID when it is one; anything else that is no number is ignored."""
    if not last_event_id or not last_event_id.isdigit():
        return after_uid
    try:
        return UID_CURSOR.validate_python(int(last_event_id))
    except ValidationError as error:
        raise InvalidInput(f"Last-Event-ID must be at most {MAX_UID}") from error


async def _event_stream(
    inbox: InboxService, mailbox: Mailbox, after_uid: int | None, query: MessageQuery
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    messages = inbox.stream(mailbox, after_uid, query)
    # One pending read survives keep-alives: cancelling a read would close the stream underneath it.
    pending: asyncio.Future[StoredMessage] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(messages))
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield ": keep-alive\n\n"
                continue
            try:
                message = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            data = message_out(message, include_text=False).model_dump_json(by_alias=True)
            yield f"id: {message.uid}\nevent: message.received\ndata: {data}\n\n"
    finally:
        if pending is not None:
            pending.cancel()
        with contextlib.suppress(Exception):
            await messages.aclose()  # type: ignore[attr-defined]
