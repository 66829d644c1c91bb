"""The tools that read a mailbox, shared by the stdio server and the one mounted at /mcp."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from mailservice import __version__
from mailservice.client import AsyncMailClient, MailboxStatus
from mailservice.client.models import RetentionOut
from mailservice.protocols.mcp.arguments import (
    DEFAULT_TOOL_WAIT_SECONDS,
    AfterUid,
    DeleteOldestRead,
    EventsAfter,
    EventsLimit,
    FromDomain,
    KeepForever,
    Limit,
    MarkSeen,
    MaxAgeDays,
    PlainArgumentsServer,
    RequireVerified,
    Search,
    Seconds,
    Since,
    Uid,
    UnreadOnly,
    View,
)
from mailservice.protocols.mcp.errors import tool_errors
from mailservice.protocols.mcp.hints import CHANGE, DELETES, READS, REPEATABLE_CHANGE
from mailservice.protocols.mcp.progress import with_progress
from mailservice.protocols.mcp.views import (
    UNTRUSTED,
    CodeResult,
    EventList,
    MessageList,
    MessageView,
    WaitResult,
    full_view,
    safe_view,
    summary,
)

ClientFor = Callable[[Context[Any, Any]], AbstractAsyncContextManager[AsyncMailClient]]

INSTRUCTIONS = (
    "A private, receive-only mailbox bound to this agent's key. claim_mailbox once with a billing e-mail "
    "(the mailbox works after the payment link is opened), then use the mailbox's address to sign up "
    "somewhere and get_verification_code or wait_for_message to read what arrives. " + UNTRUSTED
)


def mail_server() -> PlainArgumentsServer:
    return PlainArgumentsServer("mailservice", instructions=INSTRUCTIONS, version=__version__)


def add_reading_tools(server: MCPServer, client_for: ClientFor) -> None:
    @server.tool(
        description="The mailbox's e-mail address, id and expiry, and where it stands: active, "
        "pending_payment (with payment_url) or expired.",
        annotations=READS,
    )
    async def mailbox_status(ctx: Context) -> MailboxStatus:
        async with tool_errors(), client_for(ctx) as mail:
            return await mail.status()

    @server.tool(
        description="How long the mailbox keeps mail (max_age_days, null: forever) and whether a full "
        "mailbox deletes its oldest read messages to take new mail (otherwise new mail is refused).",
        annotations=READS,
    )
    async def mailbox_retention(ctx: Context) -> RetentionOut:
        async with tool_errors(), client_for(ctx) as mail:
            return await mail.retention()

    @server.tool(
        description="Change the mailbox's retention: an age limit in days (or keep_forever), and whether a "
        "full mailbox deletes its oldest read messages to take new mail. Arguments left out stay as they "
        "are. Mail past a new age limit is deleted at the next sweep.",
        annotations=DELETES,
    )
    async def set_mailbox_retention(
        ctx: Context,
        max_age_days: MaxAgeDays = None,
        keep_forever: KeepForever = False,
        delete_oldest_read_when_full: DeleteOldestRead = None,
    ) -> RetentionOut:
        if keep_forever and max_age_days is not None:
            raise ToolError("set_mailbox_retention: give max_age_days or keep_forever, not both")
        async with tool_errors(), client_for(ctx) as mail:
            age: int | Literal["forever"] | None = "forever" if keep_forever else max_age_days
            return await mail.set_retention(age, delete_oldest_read_when_full)

    @server.tool(description="The newest messages, unread first if asked. " + UNTRUSTED, annotations=READS)
    async def list_messages(
        ctx: Context, limit: Limit = 20, unread_only: UnreadOnly = False, query: Search = None
    ) -> MessageList:
        async with tool_errors(), client_for(ctx) as mail:
            listing = await mail.list_messages(limit=limit, q=query, unread_only=unread_only)
        return MessageList(messages=[summary(message) for message in listing.messages])

    @server.tool(
        description="The mailbox's events, oldest first: message.received (uid, sender, subject, preview, "
        "codes), mailbox.expiring, mailbox.expired and mailbox.renewed. Call again with next_after to get "
        "only what is new. " + UNTRUSTED,
        annotations=READS,
    )
    async def list_events(ctx: Context, after: EventsAfter = 0, limit: EventsLimit = 100) -> EventList:
        async with tool_errors(), client_for(ctx) as mail:
            page = await mail.events(after=after, limit=limit)
        return EventList(events=page.events, next_after=page.next_after)

    @server.tool(
        description="One message. The default safe view shows only visible text, trims quoted history and "
        "numbers links; view='full' gives the whole decoded text. " + UNTRUSTED,
        annotations=REPEATABLE_CHANGE,
    )
    async def read_message(
        ctx: Context, uid: Uid, view: View = "safe", mark_seen: MarkSeen = False
    ) -> MessageView:
        async with tool_errors(), client_for(ctx) as mail:
            message = await mail.get_message(uid, mark_seen=mark_seen)
            if view == "full":
                return full_view(message)
            return safe_view(message, await mail.safe_text(uid))

    @server.tool(
        description="Wait for a message that matches query: the newest unread one that already arrived "
        "(received from since on, when given), else the next to arrive; or the first after after_uid. "
        "Note the time before triggering an e-mail and pass it as since. " + UNTRUSTED,
        annotations=READS,
    )
    async def wait_for_message(
        ctx: Context,
        timeout_seconds: Seconds = DEFAULT_TOOL_WAIT_SECONDS,
        query: Search = None,
        after_uid: AfterUid = None,
        since: Since = None,
    ) -> WaitResult:
        async with tool_errors(), client_for(ctx) as mail:
            waiting = mail.wait(timeout_seconds, query, after_uid, since)
            message = await with_progress(ctx, timeout_seconds, waiting)
        if message is None:
            return WaitResult(timed_out=True)
        return WaitResult(timed_out=False, message=summary(message))

    @server.tool(
        description="A verification code or verify/magic link: from the newest unread message that has "
        "one, else from the next message to arrive; that message is then marked read. Trigger the e-mail "
        "first, then call this. "
        "Set from_domain (or require_verified) to take it only from the real, authenticated sender. "
        + UNTRUSTED,
        annotations=CHANGE,
    )
    async def get_verification_code(
        ctx: Context,
        timeout_seconds: Seconds = DEFAULT_TOOL_WAIT_SECONDS,
        query: Search = None,
        require_verified: RequireVerified = False,
        from_domain: FromDomain = None,
    ) -> CodeResult:
        async with tool_errors(), client_for(ctx) as mail:
            looking = mail.verification_code(timeout_seconds, query, require_verified, from_domain)
            found = await with_progress(ctx, timeout_seconds, looking)
        if found is None:
            return CodeResult(found=False)
        return CodeResult(
            found=True,
            code=found.code,
            link=found.link,
            link_kind=found.link_kind,
            uid=found.uid,
            sender=found.sender,
            subject=found.subject,
            context=found.context,
        )
