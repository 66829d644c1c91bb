"""IDLE (RFC 2177): report changes as they happen until the client says DONE."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command
from mailservice.protocols.imap.replies import Disconnect, bad
from mailservice.protocols.imap.updates import send_updates


async def idle(client: Client, command: Command) -> str:
    watch = client.state.mail().watch()
    try:
        client.out.write(b"+ idling\r\n")
        await send_updates(client, allow_expunge=True)
        await client.out.flush()
        line = await _wait(client, aiter(watch))
    finally:
        watch.close()
    if line.strip().upper() != b"DONE":
        raise bad("Expected DONE.")
    return "Idle completed."


async def _wait(client: Client, events: AsyncIterator[int | None]) -> bytes:
    reading = asyncio.ensure_future(client.read_line())
    waking: asyncio.Future[int | None] | None = asyncio.ensure_future(anext(events))
    try:
        while True:
            pending: set[asyncio.Future[Any]] = {reading} if waking is None else {reading, waking}
            done, _ = await asyncio.wait(
                pending,
                timeout=client.options.policy.idle_timeout_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                raise Disconnect("Disconnected for inactivity.")
            if reading in done:
                return reading.result()
            waking = await _woken(client, waking, events)
    finally:
        for task in (reading, waking):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await task


async def _woken(
    client: Client, waking: asyncio.Future[int | None] | None, events: AsyncIterator[int | None]
) -> asyncio.Future[int | None] | None:
    if waking is None:
        return None
    try:
        waking.result()
    except StopAsyncIteration:
        return None  # the watch ended: only DONE can end IDLE now
    await send_updates(client, allow_expunge=True)
    await client.out.flush()
    return asyncio.ensure_future(anext(events))
