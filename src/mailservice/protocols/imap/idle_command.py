"""IDLE (RFC 2177): report changes as they happen until the client says DONE."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import Command
from mailservice.protocols.imap.condstore import highestmodseq_line
from mailservice.protocols.imap.replies import Disconnect, bad
from mailservice.protocols.imap.updates import highestmodseq_told, send_updates


async def idle(client: Client, command: Command) -> str:
    watch = client.state.mail().watch()
    try:
        client.out.write(b"+ idling\r\n")
        await _send_updates(client)
        await client.out.flush()
        line = await _wait(client, aiter(watch))
    finally:
        watch.close()
    if line.strip().upper() != b"DONE":
        raise bad("Expected DONE.")
    return "Idle completed."


async def _wait(client: Client, events: AsyncIterator[int | None]) -> bytes:
    """The client's next line, reporting changes meanwhile. One future is woken by the line, a change
    or the inactivity deadline (not `asyncio.wait`, whose sets, callbacks and coroutines each waiting
    connection would hold for as long as it idles)."""
    loop = asyncio.get_running_loop()
    reading = asyncio.ensure_future(client.read_line())
    waking: asyncio.Future[int | None] | None = asyncio.ensure_future(anext(events))
    try:
        while True:
            woken: asyncio.Future[None] = loop.create_future()
            wake = functools.partial(_wake, woken)
            reading.add_done_callback(wake)
            if waking is not None:
                waking.add_done_callback(wake)
            deadline = loop.call_later(client.options.policy.idle_timeout_seconds, wake)
            try:
                with client.waiting_for_client():
                    await woken
            finally:
                deadline.cancel()
                reading.remove_done_callback(wake)
                if waking is not None:
                    waking.remove_done_callback(wake)
            if reading.done():
                return reading.result()
            if waking is None or not waking.done():
                raise Disconnect("Disconnected for inactivity.")
            waking = await _woken(client, waking, events)
    finally:
        for task in (reading, waking):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await task


def _wake(woken: asyncio.Future[None], *_: object) -> None:
    if not woken.done():
        woken.set_result(None)


async def _woken(
    client: Client, waking: asyncio.Future[int | None] | None, events: AsyncIterator[int | None]
) -> asyncio.Future[int | None] | None:
    if waking is None:
        return None
    try:
        waking.result()
    except StopAsyncIteration:
        return None  # the watch ended: only DONE can end IDLE now
    await _send_updates(client)
    await client.out.flush()
    return asyncio.ensure_future(anext(events))


async def _send_updates(client: Client) -> None:
    """What changed, and with QRESYNC the HIGHESTMODSEQ it moved to (an untagged OK: IDLE has no tagged
    line to put it in until it ends)."""
    await send_updates(client, allow_expunge=True)
    told = highestmodseq_told(client)
    if told is not None:
        client.out.write(highestmodseq_line(told))
