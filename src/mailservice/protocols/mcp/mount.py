"""Mounting the MCP endpoint at /mcp of the FastAPI app, its session manager run by the app's lifespan.

The `mcp` package takes seconds of CPU to import, so it is imported when a served app starts, not
when the app is built: commands and in-process uses of the app never pay for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mailservice.protocols.http.errors import error_body

MCP_PATH = "/mcp"
Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]
# The endpoint is stateless: with no session there is nothing to push on a standalone event stream, and
# the transport would hold a GET open without a byte. The specification allows a 405 instead.
_NO_EVENT_STREAM = JSONResponse(
    error_body(
        "the MCP endpoint takes POST requests only; it opens no standalone event stream", "method_not_allowed"
    ),
    status_code=405,
    headers={"Allow": "POST"},
)


class McpEndpoint:
    """Answers /mcp through the MCP transport once the lifespan has started it."""

    def __init__(self) -> None:
        self.transport: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET":
            await _NO_EVENT_STREAM(scope, receive, send)
            return
        if self.transport is None:
            unavailable = error_body("the MCP endpoint is not running", "unavailable")
            await JSONResponse(unavailable, status_code=503)(scope, receive, send)
            return
        await self.transport(scope, receive, send)


def mount_mcp(app: FastAPI) -> None:
    endpoint = McpEndpoint()
    app.router.routes.append(Route(MCP_PATH, endpoint))
    app.router.lifespan_context = _with_mcp(app.router.lifespan_context, app, endpoint)


def _with_mcp(lifespan: Lifespan, app: FastAPI, endpoint: McpEndpoint) -> Lifespan:
    @asynccontextmanager
    async def run(asgi_app: Any) -> AsyncIterator[Any]:
        from mailservice.protocols.mcp.hosted import hosted_transport

        async with hosted_transport(app) as transport, lifespan(asgi_app) as state:
            endpoint.transport = transport
            try:
                yield state
            finally:
                endpoint.transport = None

    return run
