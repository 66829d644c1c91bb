"""The MCP server an agent runs itself, over stdio: it signs with the key file of its configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from mailservice.client import AgentKey, AsyncMailClient
from mailservice.protocols.mcp.arguments import BillingEmail, RenewalBillingEmail
from mailservice.protocols.mcp.errors import tool_errors
from mailservice.protocols.mcp.hints import CHANGE, REPEATABLE_CHANGE
from mailservice.protocols.mcp.tools import add_reading_tools, mail_server
from mailservice.protocols.mcp.views import ClaimView, claim_view
from mailservice.protocols.mcp.webhook_tools import add_webhook_tools


async def serve_stdio(base_url: str, key: AgentKey) -> None:
    async with AsyncMailClient(base_url, key=key) as mail:
        await local_server(mail).run_stdio_async()


def local_server(mail: AsyncMailClient) -> MCPServer:
    """Tools over one client that holds the agent's key; the model never sees or chooses the key."""
    server = mail_server()

    @server.tool(
        description="Claim this agent's mailbox (its key is configured in this MCP server), or get it back. "
        "A new mailbox waits for payment: its payment_url is sent to billing_email. Claiming again is safe.",
        annotations=REPEATABLE_CHANGE,
    )
    async def claim_mailbox(billing_email: BillingEmail) -> ClaimView:
        async with tool_errors():
            return claim_view(await mail.claim(billing_email))

    @server.tool(
        description="Renew this agent's mailbox, before or after it expires: a payment_url for one more "
        "month, sent to billing_email (or, without one, to the billing e-mail on file). Paying adds the "
        "month to the current expiry, so renewing early loses nothing; until paid nothing changes.",
        annotations=CHANGE,
    )
    async def renew_mailbox(billing_email: RenewalBillingEmail = None) -> ClaimView:
        async with tool_errors():
            return claim_view(await mail.renew(billing_email))

    @asynccontextmanager
    async def client_for(_ctx: Context[Any, Any]) -> AsyncIterator[AsyncMailClient]:
        yield mail

    add_reading_tools(server, client_for)
    add_webhook_tools(server, client_for)
    return server
