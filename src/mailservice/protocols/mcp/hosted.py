"""The MCP server mounted at /mcp of the running service (streamable HTTP, stateless).

The service holds no agent's private key, so this endpoint never acts for a key by itself:
- reading tools act on the mailbox of the access token that the MCP client sends as
  `Authorization: Bearer <access_token>`, a header of the client's configuration that the model
  neither sees nor chooses;
- claim_mailbox needs a fresh proof (a challenge from get_challenge, signed with the key by its
  holder, e.g. `ssh-keygen -Y sign -n edproof`); a proof is single use, expires in seconds and
  reveals nothing of the key, and the answer never contains a credential.
The tools call the service's own HTTP API in-process, so they authenticate, validate and fail
exactly like it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp

from mailservice.client import AsyncMailClient, Proof
from mailservice.protocols.http.auth import bearer_token
from mailservice.protocols.mcp.arguments import BillingEmail, Challenge, PublicKey, Signature
from mailservice.protocols.mcp.errors import tool_errors
from mailservice.protocols.mcp.hints import READS, REPEATABLE_CHANGE
from mailservice.protocols.mcp.tools import add_reading_tools, mail_server
from mailservice.protocols.mcp.views import ChallengeView, ClaimView, claim_view
from mailservice.protocols.mcp.webhook_tools import add_webhook_tools

_IN_PROCESS_URL = "http://mailservice.internal"


@asynccontextmanager
async def hosted_transport(app: FastAPI) -> AsyncIterator[ASGIApp]:
    """The MCP transport for /mcp, running for as long as the context is open."""
    server = hosted_server(app)
    # No DNS-rebinding check: nothing here answers without a Bearer token or a signed proof.
    # Answers are event streams, not single JSON bodies, so a long wait can send progress before its result.
    server.streamable_http_app(
        stateless_http=True,
        json_response=False,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    async with server.session_manager.run():
        yield StreamableHTTPASGIApp(server.session_manager)


def hosted_server(app: FastAPI) -> MCPServer:
    server = mail_server()

    @asynccontextmanager
    async def client_for(ctx: Context[Any, Any]) -> AsyncIterator[AsyncMailClient]:
        """A client of the app itself, as the caller: its Bearer token and its address (rate limits)."""
        request = ctx.request_context.request
        caller = request if isinstance(request, Request) else None
        address = (caller.client.host, caller.client.port) if caller and caller.client else ("unknown", 0)
        transport = httpx.ASGITransport(app=app, client=address)
        async with httpx.AsyncClient(transport=transport, base_url=_IN_PROCESS_URL) as http:
            yield AsyncMailClient(
                _IN_PROCESS_URL, access_token=bearer_token(caller) if caller else None, http=http
            )

    @server.tool(
        description="A single-use challenge for an ssh-ed25519 public key, to sign for claim_mailbox.",
        annotations=READS,
    )
    async def get_challenge(ctx: Context[Any, Any], public_key: PublicKey) -> ChallengeView:
        async with tool_errors(), client_for(ctx) as mail:
            issued = await mail.challenge(public_key)
        return ChallengeView(challenge=issued.challenge, expires_in=issued.expires_in)

    @server.tool(
        description="Claim the mailbox of a key, or get it back, with a proof made by the key's holder: "
        "public_key, a challenge from get_challenge and its signature. A new mailbox waits for payment: "
        "its payment_url is sent to billing_email. Reading needs the access token in this MCP server's "
        "configuration (Authorization: Bearer), obtained after payment with `mailservice agent resolve`.",
        annotations=REPEATABLE_CHANGE,
    )
    async def claim_mailbox(
        ctx: Context[Any, Any],
        billing_email: BillingEmail,
        public_key: PublicKey,
        challenge: Challenge,
        signature: Signature,
    ) -> ClaimView:
        proof = Proof(edproof=public_key, challenge=challenge, signature=signature)
        async with tool_errors(), client_for(ctx) as mail:
            return claim_view(await mail.claim(billing_email, proof=proof))

    add_reading_tools(server, client_for)
    add_webhook_tools(server, client_for)
    return server
