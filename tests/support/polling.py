"""Waiting for state that gives no signal to wait for (a pool's, a driver's, a queue's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

SECONDS = 10.0


async def until(condition: Callable[[], bool], what: str = "the condition", seconds: float = SECONDS) -> None:
    """Poll `condition()` until it holds; fail when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
