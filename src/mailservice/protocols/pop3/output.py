"""Replies go out through the IMAP server's batching `Output`, with a deadline: a client that stops
reading (its socket buffer full) for longer than the idle timeout is cut off, so it cannot hold its
mailbox's lock forever."""

from __future__ import annotations

import asyncio

from mailservice.protocols.imap.output import Output


class Stalled(ConnectionError):
    """The client did not take what was sent within the deadline."""


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
