"""Progress notifications during a long wait, so that a client does not give up on a tool call.

MCP clients time a request out (the TypeScript SDK and the MCP Inspector after 60 s by default); those
that reset the timeout on progress (`resetTimeoutOnProgress`) keep waiting as long as progress arrives.
A client that asked for no progress gets none: the SDK drops the notifications.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from mcp.server.mcpserver import Context

T = TypeVar("T")

PROGRESS_INTERVAL_SECONDS = 5.0
WAITING = "waiting for mail"


async def with_progress(ctx: Context[Any, Any], seconds: float, work: Awaitable[T]) -> T:
    """Await `work`, reporting the seconds waited (of `seconds`) at once and then every few seconds."""
    task = asyncio.ensure_future(work)
    started = time.monotonic()
    try:
        while True:
            await ctx.report_progress(round(time.monotonic() - started, 1), seconds, WAITING)
            done, _ = await asyncio.wait({task}, timeout=PROGRESS_INTERVAL_SECONDS)
            if done:
                return task.result()
    finally:
        task.cancel()
