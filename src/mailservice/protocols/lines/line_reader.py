"""Lines and counted bytes from a client, every byte held charged to the connection's memory share.

The stream's own buffer stays small (`STREAM_LIMIT`: asyncio pauses reading at twice that), so an
idle or trickling connection costs little; a longer line or a literal is assembled here in chunks,
each charged to the `ConnectionMemory` before it is kept. The connection gives the bytes back when
its command is done.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import BinaryIO

from mailservice.protocols.connection_policy import ConnectionMemory

STREAM_LIMIT = 16 * 1024
"""The StreamReader limit of every line-protocol listener; longer lines arrive in several chunks."""
LOGIN_RECEIVE_BUFFER = STREAM_LIMIT
"""The socket receive buffer before login: the most one socket read hands the stream at once."""
RECEIVE_BUFFER = 1024 * 1024
"""The socket receive buffer after login, large enough for APPEND at speed."""


class LineTooLong(Exception):
    """A line over the caller's limit; its rest has been read and dropped. `head`: its first bytes,
    enough to tell the command it was."""

    HEAD_BYTES = 128

    def __init__(self, head: bytes = b"") -> None:
        super().__init__()
        self.head = head[: self.HEAD_BYTES]


class OverBudget(Exception):
    """The connection's memory share or the process budget is spent; the line's rest was dropped."""


class LineReader:
    def __init__(self, reader: asyncio.StreamReader, memory: ConnectionMemory) -> None:
        self.reader = reader
        self.memory = memory

    async def line(self, max_bytes: int) -> bytes:
        """The next line with its line end, at most `max_bytes` long."""
        pieces: list[bytes] = []
        size = 0
        while True:
            chunk, complete = await self._chunk()
            size += len(chunk)
            if size > max_bytes or not self.memory.try_take(len(chunk)):
                self.memory.give_back(size - len(chunk))
                if not complete:
                    await self._skip_line()
                raise LineTooLong((pieces or [chunk])[0]) if size > max_bytes else OverBudget()
            pieces.append(chunk)
            if complete:
                return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def exactly(self, size: int) -> bytes:
        """`size` bytes that the caller has already charged (a literal it accepted)."""
        if size <= STREAM_LIMIT:
            return await self._read(size)
        pieces = []
        while size > 0:
            chunk = await self._read(min(size, STREAM_LIMIT))
            pieces.append(chunk)
            size -= len(chunk)
        return b"".join(pieces)

    async def spool(self, size: int) -> BinaryIO:
        """`size` bytes written to a temporary file (not held in memory), positioned at its start."""
        file = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the caller open)
        try:
            while size > 0:
                chunk = await self._read(min(size, STREAM_LIMIT))
                file.write(chunk)
                size -= len(chunk)
        except BaseException:
            file.close()
            raise
        file.seek(0)
        return file

    async def discard(self, size: int) -> None:
        while size > 0:
            chunk = await self._read(min(size, STREAM_LIMIT))
            size -= len(chunk)

    def drop_buffered(self) -> None:
        """Forget what the client sent ahead (before a TLS handshake: command injection)."""
        buffered = getattr(self.reader, "_buffer", None)
        if buffered:
            buffered.clear()

    async def _read(self, size: int) -> bytes:
        try:
            return await self.reader.readexactly(size)
        except asyncio.IncompleteReadError as incomplete:
            raise EOFError() from incomplete

    async def _chunk(self) -> tuple[bytes, bool]:
        """Up to the line end (complete) or as much as the stream holds (incomplete)."""
        try:
            return await self.reader.readuntil(b"\n"), True
        except asyncio.LimitOverrunError as overrun:
            return await self._read(overrun.consumed), False
        except asyncio.IncompleteReadError as incomplete:
            raise EOFError() from incomplete

    async def _skip_line(self) -> None:
        complete = False
        while not complete:
            _, complete = await self._chunk()
