"""The mailbox's event log: a JSON page after a cursor, or Server-Sent Events (`Accept: text/event-stream`)
resumable with Last-Event-ID (the id of the last event seen) on any node, after any restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from mailservice.domain.agent_events import LoggedEvent
from mailservice.domain.errors import InvalidInput
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.search import MessageQuery, parse_query
from mailservice.protocols.http.auth import BearerMailbox
from mailservice.protocols.http.concurrency import without_request_slot
from mailservice.protocols.http.dependencies import ServicesDep
from mailservice.protocols.http.routers.messages import Q_HELP
from mailservice.protocols.http.schemas import error_responses
from mailservice.services.event_feed import MAX_EVENTS_PAGE, EventFeed
from mailservice.wire.events import MAX_EVENT_ID, EventCursor, EventOut, EventPageOut

router = APIRouter(tags=["events"])

KEEPALIVE_SECONDS = 15.0  # a variable so tests can shorten it
EVENT_CURSOR: TypeAdapter[int] = TypeAdapter(EventCursor)
EVENT_STREAM = "text/event-stream"


@router.get(
    "/v1/events",
    response_model=EventPageOut,
    responses={
        200: {
            "description": f"JSON, or with `Accept: {EVENT_STREAM}` one SSE message per event",
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        },
        **error_responses(400, 401, 409),
    },
    dependencies=[without_request_slot()],
)
async def events(
    request: Request,
    mailbox: BearerMailbox,
    services: ServicesDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[
        EventCursor | None,
        Query(description="Events with an id above this; a stream without it starts from now"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE, description="JSON only")] = 100,
    q: Annotated[str | None, Query(max_length=500, description=f"Stream only. {Q_HELP}")] = None,
) -> Response:
    """The mailbox's events (`message.received`, `mailbox.expiring`, `mailbox.expired`, `mailbox.renewed`),
    oldest first. Page with `after=next_after`; a stream's SSE `id` is the event id, so a reconnect with
    Last-Event-ID misses nothing, on any node and after a restart."""
    resume = _resume_id(last_event_id, after)
    if EVENT_STREAM not in request.headers.get("accept", ""):
        page = await services.event_feed.page(mailbox, resume or 0, limit)
        body = EventPageOut(events=[_event_out(e) for e in page.events], next_after=page.next_after)
        return JSONResponse(body.model_dump(mode="json"))
    return StreamingResponse(
        _event_stream(services.event_feed, mailbox, resume, parse_query(q) if q else None),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _resume_id(last_event_id: str | None, after: int | None) -> int | None:
    """The id of Last-Event-ID when it is one; anything else that is no number is ignored."""
    if not last_event_id or not last_event_id.isdigit():
        return after
    try:
        return EVENT_CURSOR.validate_python(int(last_event_id))
    except ValidationError as error:
        raise InvalidInput(f"Last-Event-ID must be at most {MAX_EVENT_ID}") from error


def _event_out(event: LoggedEvent) -> EventOut:
    return EventOut.model_validate(
        {"id": event.id, "type": event.type, "occurred_at": event.occurred_at, "data": event.data}
    )


async def _event_stream(
    feed: EventFeed, mailbox: Mailbox, after: int | None, query: MessageQuery | None
) -> AsyncIterator[str]:
    if after is None:  # "from now" is now, before the first line: whatever is logged after it is sent
        after = await feed.latest_id(mailbox.id)
    yield "retry: 2000\n\n"
    events = feed.follow(mailbox, after, query)
    # One pending read survives keep-alives: cancelling a read would close the stream underneath it.
    pending: asyncio.Future[LoggedEvent] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield ": keep-alive\n\n"
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            data = _event_out(event).model_dump_json()
            yield f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"
    finally:
        if pending is not None:
            pending.cancel()
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
