"""Tools that manage the mailbox's webhooks (its events POSTed to a URL), beside the reading tools."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mailservice.client.models import DeliveryListOut, DeliveryOut, WebhookCreated, WebhookListOut
from mailservice.protocols.mcp.arguments import Search
from mailservice.protocols.mcp.errors import tool_errors
from mailservice.protocols.mcp.hints import CHANGE, DELETES, READS
from mailservice.protocols.mcp.tools import ClientFor
from mailservice.wire.webhooks import EventType

WebhookId = Annotated[str, Field(description="The webhook's id (wh_...)", max_length=32)]
TargetUrl = Annotated[
    str, Field(description="http(s) URL, reachable on the public internet", max_length=2000)
]
DeliveryLimit = Annotated[int, Field(ge=1, le=100, description="How many deliveries at most, newest first")]
Events = Annotated[list[EventType] | None, Field(description="Event types to send; default: all")]


class Deleted(BaseModel):
    deleted: str


def add_webhook_tools(server: MCPServer, client_for: ClientFor) -> None:
    @server.tool(
        description="Have this mailbox's events (message.received, mailbox.expiring, mailbox.expired, "
        "mailbox.renewed) POSTed to a URL, signed as Standard Webhooks. query limits message events to "
        "matching mail. Keep the returned secret (whsec_...) to verify signatures: it is shown only once.",
        annotations=CHANGE,
    )
    async def create_webhook(
        ctx: Context, url: TargetUrl, events: Events = None, query: Search = None
    ) -> WebhookCreated:
        async with tool_errors(), client_for(ctx) as mail:
            return await mail.create_webhook(url, list(events) if events else None, query)

    @server.tool(description="The mailbox's webhooks.", annotations=READS)
    async def list_webhooks(ctx: Context) -> WebhookListOut:
        async with tool_errors(), client_for(ctx) as mail:
            return await mail.list_webhooks()

    @server.tool(description="Stop sending to a webhook and forget it.", annotations=DELETES)
    async def delete_webhook(ctx: Context, webhook_id: WebhookId) -> Deleted:
        async with tool_errors(), client_for(ctx) as mail:
            await mail.delete_webhook(webhook_id)
        return Deleted(deleted=webhook_id)

    @server.tool(
        description="Queue a webhook.test event to a webhook now; see the outcome with webhook_deliveries.",
        annotations=CHANGE,
    )
    async def test_webhook(ctx: Context, webhook_id: WebhookId) -> DeliveryOut:
        async with tool_errors(), client_for(ctx) as mail:
            return await mail.test_webhook(webhook_id)

    @server.tool(
        description="A webhook's recent deliveries, newest first, with every attempt (time, HTTP status, "
        "latency, error).",
        annotations=READS,
    )
    async def webhook_deliveries(
        ctx: Context, webhook_id: WebhookId, limit: DeliveryLimit = 20
    ) -> DeliveryListOut:
        async with tool_errors(), client_for(ctx) as mail:
            return await mail.webhook_deliveries(webhook_id, limit)
