"""A subscription to one mailbox's events: a bounded queue that drops the oldest when a reader lags."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mailservice.domain.messages import Signal

QUEUE_LIMIT = 1000


class QueueSubscription:
    def __init__(self, mailbox_id: str, on_close: Callable[[QueueSubscription], None]) -> None:
        self.mailbox_id = mailbox_id
        self._queue: asyncio.Queue[Signal | None] = asyncio.Queue(QUEUE_LIMIT)
        self._on_close = on_close
        self._closed = False

    def offer(self, event: Signal) -> None:
        if self._queue.full():
            # A reader that lags this far re-reads the store anyway; keep the newest events.
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    def __aiter__(self) -> QueueSubscription:
        return self

    async def __anext__(self) -> Signal:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_close(self)
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
