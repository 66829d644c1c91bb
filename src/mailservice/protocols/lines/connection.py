"""What every IMAP and POP3 connection has: its client's address, a `LineReader` charging the
connection's memory share, and the deadlines for reading (the login deadline, then inactivity).

Before login the memory share is `ListenerPolicy.login_buffer_bytes`, the socket's receive buffer
is small, and the time to log in is bounded in total (not per command, so a client trickling NOOPs
is cut off too); after login the share grows to `connection_buffer_bytes`, the receive buffer to
`RECEIVE_BUFFER`, and only the inactivity timeout applies.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable
from typing import TypeVar

from mailservice.protocols.connection_policy import ConnectionMemory, ListenerPolicy
from mailservice.protocols.lines.line_reader import RECEIVE_BUFFER, STREAM_LIMIT, LineReader
from mailservice.protocols.lines.listener import peer_address
from mailservice.protocols.lines.stop import ConnectionStops

T = TypeVar("T")

LINGER_SECONDS = 2.0
"""How long input is still read and dropped after a last reply, so that the reply reaches the client."""
LOGIN_TIMED_OUT = "Login timed out."
INACTIVE = "Disconnected for inactivity."


class TimedOut(Exception):
    """The client sent nothing within a deadline; the text says which."""


class LineConnection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        policy: ListenerPolicy,
        stops: ConnectionStops,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.policy = policy
        self.memory = ConnectionMemory(policy.memory, policy.login_buffer_bytes)
        self.lines = LineReader(reader, self.memory)
        self.peer = peer_address(writer)
        self.tls = writer.get_extra_info("sslcontext") is not None
        self.logged_in = False
        self._goodbye = False
        self._login_deadline = asyncio.get_running_loop().time() + policy.login_timeout_seconds
        self.stop = stops.guard()

    def mark_logged_in(self) -> None:
        self.logged_in = True
        self.memory.max_bytes = self.policy.connection_buffer_bytes
        connected = self.writer.get_extra_info("socket")
        if connected is not None:
            connected.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def command_done(self) -> None:
        """The command's bytes are no longer held."""
        self.memory.release_all()

    async def within_deadline(self, reading: Awaitable[T]) -> T:
        """Await a read under the inactivity timeout and, before login, the login deadline."""
        seconds, reason = self.policy.idle_timeout_seconds, INACTIVE
        if not self.logged_in:
            left = self._login_deadline - asyncio.get_running_loop().time()
            if left < seconds:
                seconds, reason = max(left, 0.0), LOGIN_TIMED_OUT
        # One turn of the event loop per command: a client whose commands are all buffered already
        # would otherwise be served without a pause while every other connection waits.
        await asyncio.sleep(0)
        try:
            async with asyncio.timeout(seconds):  # in this task: wait_for would start one per command
                return await reading
        except TimeoutError:
            raise TimedOut(reason) from None

    async def start_tls(self, context: ssl.SSLContext) -> None:
        self.lines.drop_buffered()  # anything sent before the handshake is not trusted
        await self.writer.start_tls(context)
        self.tls = True

    def said_goodbye(self) -> None:
        """The server ends the connection with a last reply (BYE, -ERR) the client must still get."""
        self._goodbye = True

    async def close(self) -> None:
        """Close the connection. After a last reply the client may still be sending, and closing with
        unread input makes the kernel reset the connection and drop the reply not yet sent: so the
        reply goes out with a FIN first and input is read and dropped for a moment."""
        try:
            if self._goodbye:
                await self._linger()
        finally:
            self.writer.close()

    async def _linger(self) -> None:
        try:
            if self.writer.can_write_eof():
                self.writer.write_eof()
            async with asyncio.timeout(LINGER_SECONDS):
                while await self.reader.read(STREAM_LIMIT):
                    pass
        except (TimeoutError, OSError):
            pass
