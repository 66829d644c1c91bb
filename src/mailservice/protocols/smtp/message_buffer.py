"""The DATA of one message as it arrives: unstuffed, bounded in size, in memory or spooled to disk.

Blocks are appended to `pending`, which begins with a virtual line end so that one check finds the
terminator, even of an empty message, and one `replace` undoes dot-stuffing on every line, the first
included. While the message is small it stays in `pending`, each block charged to the connection's
memory share. Once the share or the process budget refuses a block, everything before the last line
end is unstuffed and written to a spool file, and from then on after every block: cutting just before
a CRLF never splits a `CRLF .` pair, so unstuffing piece by piece gives what unstuffing the whole would.
A line with no end in sight is cut just before the last five bytes, which no pair can span either.
"""

from __future__ import annotations

import logging

from mailservice.protocols.connection_policy import ConnectionMemory
from mailservice.protocols.smtp.spool import Spool, SpoolFile

log = logging.getLogger(__name__)

TERMINATOR = b"\r\n.\r\n"
LINE_END = b"\r\n"
STUFFED_LINE_START = b"\r\n."
LONG_LINE_BYTES = 64 * 1024
TOO_BIG = "552 5.3.4 Message too big"
NO_STORAGE = "452 4.3.1 Insufficient system storage, try again later"


class MessageBuffer:
    def __init__(self, memory: ConnectionMemory, spool: Spool, size_limit: int) -> None:
        self._memory = memory
        self._spool = spool
        self._size_limit = size_limit
        self._pending = bytearray(LINE_END)
        self._received = 0
        self._file: SpoolFile | None = None
        self._virtual_line_end = True
        self.refusal: str | None = None

    @property
    def complete(self) -> bool:
        return self._pending.endswith(TERMINATOR)

    def add(self, block: bytes) -> None:
        self._received += len(block)
        if self.refusal is None and self._size_limit and self._received > self._size_limit + len(TERMINATOR):
            self._refuse(TOO_BIG)
        if self.refusal is not None:
            self._pending += block
            del self._pending[: -len(TERMINATOR)]  # refused: read on to the end, keep nothing
            return
        if self._file is None and self._memory.try_take(len(block)):
            self._pending += block
            return
        self._pending += block
        self._spill()

    def finish(self) -> bytearray | SpoolFile:
        """The unstuffed message with its final CRLF, in memory or spooled; check `refusal` after."""
        if self.refusal is not None:
            return bytearray()
        del self._pending[-3:]  # ".\r\n" of the terminator; its CRLF ends the last line
        if self._file is None:
            message, self._pending = self._unstuffed(self._pending), bytearray()
            return message
        self._write(self._pending)
        self._pending = bytearray()
        return self._file if self.refusal is None else bytearray()

    def discard(self) -> None:
        """Give back what the message holds, in memory and on disk."""
        self._memory.release_all()
        self._pending = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None

    def _spill(self) -> None:
        if self._file is None:
            try:
                self._file = self._spool.open()
            except OSError as error:
                log.error("smtp.spool_failed error=%s", error)
                self._refuse(NO_STORAGE)
                return
            self._memory.release_all()
        # The last five bytes stay, so that the terminator is seen whole when it arrives.
        tail_start = len(self._pending) - len(TERMINATOR)
        cut = self._pending.rfind(LINE_END, 0, tail_start + len(LINE_END))
        if cut <= 0:
            if len(self._pending) < LONG_LINE_BYTES:
                return
            cut = tail_start  # no line end before the tail: no `CRLF .` can span the cut
        piece = self._pending[:cut]
        del self._pending[:cut]
        self._write(piece)

    def _write(self, piece: bytearray) -> None:
        assert self._file is not None
        try:
            written = self._file.write(self._unstuffed(piece))
        except OSError as error:
            log.error("smtp.spool_failed error=%s", error)
            written = False
        if not written:
            self._refuse(NO_STORAGE)

    def _unstuffed(self, piece: bytearray) -> bytearray:
        if STUFFED_LINE_START in piece:
            piece = piece.replace(STUFFED_LINE_START, LINE_END)
        if self._virtual_line_end:
            self._virtual_line_end = False
            del piece[: len(LINE_END)]
        return piece

    def _refuse(self, reply: str) -> None:
        self.refusal = reply
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory.release_all()
