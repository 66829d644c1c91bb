"""Mounting the MCP endpoint at /mcp of the FastAPI app, its session manager run by the app's lifespan.

The `mcp` package takes seconds of CPU to import, so it is imported on the first request to /mcp (in a
thread, so the other listeners keep answering meanwhile), not when the app is built or started: a
server whose agents never use MCP never pays for it, and a start is that much faster. The first MCP
request waits for it once.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mailservice.protocols.http.errors import error_body

log = logging.getLogger(__name__)

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
    """Answers /mcp through the MCP transport, started by the first request while the lifespan runs."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._asked = asyncio.Event()
        self._transport: asyncio.Future[ASGIApp] | None = None  # set while the lifespan runs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET":
            await _NO_EVENT_STREAM(scope, receive, send)
            return
        transport = await self._started_transport()
        if transport is None:
            unavailable = error_body("the MCP endpoint is not running", "unavailable")
            await JSONResponse(unavailable, status_code=503)(scope, receive, send)
            return
        await transport(scope, receive, send)

    async def _started_transport(self) -> ASGIApp | None:
        transport = self._transport
        if transport is None:
            return None
        self._asked.set()
        await asyncio.wait([transport])  # a request cancelled meanwhile leaves the start going
        if transport.cancelled() or transport.exception() is not None:
            return None  # stopping, or it failed to start (logged once, where it failed)
        return transport.result()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """For the app's lifespan: the transport starts when first asked and stops when this closes."""
        self._transport = asyncio.get_running_loop().create_future()
        stopping = asyncio.Event()
        task = asyncio.create_task(self._serve_when_asked(self._transport, stopping), name="mcp-transport")
        try:
            yield
        finally:
            stopping.set()
            self._asked.set()
            await task
            self._transport, self._asked = None, asyncio.Event()

    async def _serve_when_asked(self, transport: asyncio.Future[ASGIApp], stopping: asyncio.Event) -> None:
        await self._asked.wait()
        if stopping.is_set():
            transport.cancel()
            return
        try:
            hosted = await asyncio.to_thread(importlib.import_module, "mailservice.protocols.mcp.hosted")
            async with hosted.hosted_transport(self._app) as running:
                transport.set_result(running)
                await stopping.wait()
        except Exception as error:
            if transport.done():
                log.exception("mcp.transport_failed")
            else:
                log.exception("mcp.failed_to_start")
                transport.set_exception(error)


def mount_mcp(app: FastAPI) -> None:
    endpoint = McpEndpoint(app)
    app.router.routes.append(Route(MCP_PATH, endpoint))
    app.router.lifespan_context = _with_mcp(app.router.lifespan_context, endpoint)


def _with_mcp(lifespan: Lifespan, endpoint: McpEndpoint) -> Lifespan:
    @asynccontextmanager
    async def run(asgi_app: Any) -> AsyncIterator[Any]:
        async with endpoint.running(), lifespan(asgi_app) as state:
            yield state

    return run
