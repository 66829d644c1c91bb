"""A subscription to one mailbox's events: a bounded queue that drops the oldest when a reader lags.

Every IMAP IDLE and POP3 connection, event stream and long poll holds one while it waits, so it is
kept small: the queue exists only once an event arrives, and a waiting reader costs one future
(an `asyncio.Queue` costs several deques, a condition and an event for each subscription). Readers
that overlap (one cancelled while the next starts) each wake at the next event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from mailservice.domain.messages import Signal

QUEUE_LIMIT = 1000


class QueueSubscription:
    __slots__ = ("_closed", "_events", "_on_close", "_waiters", "mailbox_id")

    def __init__(self, mailbox_id: str, on_close: Callable[[QueueSubscription], None]) -> None:
        self.mailbox_id = mailbox_id
        self._on_close = on_close
        self._closed = False
        self._events: deque[Signal | None] | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def offer(self, event: Signal) -> None:
        # A reader that lags QUEUE_LIMIT events re-reads the store anyway; keep the newest events.
        self._put(event)

    def __aiter__(self) -> QueueSubscription:
        return self

    async def __anext__(self) -> Signal:
        while not self._events:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        event = self._events.popleft()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_close(self)
        self._put(None)

    def _put(self, event: Signal | None) -> None:
        if self._events is None:
            self._events = deque(maxlen=QUEUE_LIMIT)  # full: appending drops the oldest
        self._events.append(event)
        for waiter in self._waiters:  # usually one; each looks at the queue again when it wakes
            if not waiter.done():
                waiter.set_result(None)
