"""Stopping the service, as a line connection (IMAP, POP3) sees it.

A stop ends every connection with its protocol's goodbye, never in the middle of a command: one waiting
for its next command (or idling) is ended at once, one whose command is under way once that command is
answered. So a write a client started is finished, and told to every node, before the service closes
its stores; and a client is told why the connection ends instead of finding it cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class ConnectionStops:
    """The connections of a listener, for a stop to end."""

    def __init__(self) -> None:
        self.requested = False
        self._guards: set[StopGuard] = set()

    def guard(self) -> StopGuard:
        """For the connection whose task is the current one; `StopGuard.leave` when it ends."""
        guard = StopGuard(self)
        self._guards.add(guard)
        if self.requested:
            guard.request()
        return guard

    def request(self) -> list[asyncio.Task[object]]:
        """End every connection as soon as it is between commands; their tasks, to wait for."""
        self.requested = True
        for guard in list(self._guards):
            guard.request()
        return [guard.task for guard in self._guards]

    def left(self, guard: StopGuard) -> None:
        self._guards.discard(guard)


class StopGuard:
    def __init__(self, stops: ConnectionStops) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task: asyncio.Task[object] = task
        self.requested = False
        self._stops = stops
        self._waiting = False
        self._cancelled = False

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """A wait that a stop may end at once: for the next command, or in IMAP's IDLE for a change or
        DONE."""
        self._waiting = True
        try:
            if self.requested:
                self._cancel()
            yield
        finally:
            self._waiting = False

    def request(self) -> None:
        self.requested = True
        if self._waiting:
            self._cancel()

    def caused(self) -> bool:
        """Whether the cancellation being handled is the stop's; then the task goes on to say goodbye."""
        if not self._cancelled:
            return False
        self._cancelled = False
        self.task.uncancel()
        return True

    def leave(self) -> None:
        self._stops.left(self)

    def _cancel(self) -> None:
        if not self._cancelled and not self.task.done():
            self._cancelled = True
            self.task.cancel()
