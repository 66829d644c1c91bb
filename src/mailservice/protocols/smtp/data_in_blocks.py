"""A faster DATA phase for aiosmtpd: the message is read in blocks up to `CRLF.CRLF`, not line by line.

aiosmtpd reads DATA one line at a time, which costs more CPU than everything else we do with a message.
This reads until the terminator in whatever blocks the stream holds (the stream pauses the socket past
twice its line limit, so a block is at most what one read brings), hands the blocks to a
`MessageBuffer` that unstuffs them and keeps them in memory or spools them, and then hands over to the
handler exactly as aiosmtpd does. Lines longer than 1000 octets are accepted rather than refused, like
Postfix does. DATA and the storing after the final dot have timers of their own (`timeouts.py`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import syntax

from mailservice.protocols.connection_policy import ConnectionMemory
from mailservice.protocols.smtp.message_buffer import MessageBuffer
from mailservice.protocols.smtp.replies import TEMPORARY_FAILURE
from mailservice.protocols.smtp.spool import Spool, SpoolFile

log = logging.getLogger(__name__)


class DataInBlocks:
    """The DATA command, reading the message in blocks; mixed into aiosmtpd's SMTP/LMTP protocol classes,
    before them in the MRO."""

    _reader: asyncio.StreamReader
    data_size_limit: int | None
    envelope: Any
    connection_memory: ConnectionMemory
    spool: Spool

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        proto: Any = self
        if await proto.check_helo_needed() or await proto.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await proto.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await proto.push("501 5.5.4 Syntax: DATA")
            return
        await proto.push("354 End data with <CR><LF>.<CR><LF>")
        buffer = MessageBuffer(self.connection_memory, self.spool, self.data_size_limit or 0)
        try:
            proto.start_data()
            await self._read_message(buffer)
            proto.end_data()
            status = await self._store(buffer)
        finally:
            buffer.discard()
        proto._set_post_data_state()
        await proto.push(status)
        proto.wait_for_transaction()
        proto._reset_timeout()

    async def _read_message(self, buffer: MessageBuffer) -> None:
        while not buffer.complete:
            buffer.add(await self._next_block())

    async def _store(self, buffer: MessageBuffer) -> str:
        """Hand the message to the handler; a spooled one waits for its turn to come into memory."""
        message = buffer.finish()
        if buffer.refusal is not None:
            return buffer.refusal
        if isinstance(message, SpoolFile):
            return await self._store_spooled(message)
        self.envelope.content = self.envelope.original_content = message
        del message  # the envelope holds the only reference, which the handler takes over
        return await self._call_handler()

    async def _store_spooled(self, spooled: SpoolFile) -> str:
        async with self.spool.large_messages:
            try:
                self.envelope.content = self.envelope.original_content = await spooled.read_all()
            except OSError as error:
                log.error("smtp.spool_read_failed error=%s", error)
                return TEMPORARY_FAILURE
            return await self._call_handler()

    async def _call_handler(self) -> str:
        status = await self._call_handler_hook("DATA")  # type: ignore[attr-defined]
        return status if isinstance(status, str) else "250 OK"

    async def _next_block(self) -> bytes:
        """Bytes up to the next `.CRLF` (a terminator ends with one), or as many as are buffered."""
        try:
            return await self._reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError as overrun:
            return await self._reader.readexactly(max(1, overrun.consumed))
