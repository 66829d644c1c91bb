"""Replies go out in batches: lines are collected and written together, and a large response is
flushed (and drained) as it grows so it is never all held in memory. `DeadlineOutput` also cuts off
a client that stops reading: one that leaves its socket buffer full past the deadline."""

from __future__ import annotations

import asyncio

FLUSH_BYTES = 256 * 1024


class Stalled(ConnectionError):
    """The client did not take what was sent within the deadline."""


class Output:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._size += len(data)

    def write_all(self, lines: list[bytes]) -> None:
        self._pending.extend(lines)
        self._size += sum(len(line) for line in lines)

    async def maybe_flush(self) -> None:
        if self._size >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            self._size = 0
            self.writer.write(data)
        await self.writer.drain()


class DeadlineOutput(Output):
    def __init__(self, writer: asyncio.StreamWriter, seconds: float) -> None:
        super().__init__(writer)
        self.seconds = seconds

    async def flush(self) -> None:
        try:
            async with asyncio.timeout(self.seconds):  # in this task: STLS follows a flush
                await super().flush()
        except TimeoutError:
            raise Stalled() from None
