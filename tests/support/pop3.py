"""A POP3 server over an in-memory mailbox, and a raw POP3 client that sends lines exactly as written."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.pop3.locks import MaildropLocks
from mailservice.protocols.pop3.options import Pop3Options
from mailservice.protocols.pop3.server import start_pop3

TIMEOUT = 10


@dataclass
class RunningPop3:
    host: str
    port: int
    options: Pop3Options


@asynccontextmanager
async def running_pop3(
    login: MailLogin, locks: MaildropLocks | None = None, **overrides: Any
) -> AsyncIterator[RunningPop3]:
    options = replace(Pop3Options(port=0, allow_plaintext_auth=True, hostname="pop.agents.test"), **overrides)
    server = await start_pop3(login, options, locks)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        yield RunningPop3(host, port, options)
    finally:
        server.close()
        await server.wait_closed()


class Pop3Wire:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = b""

    @classmethod
    async def connect(cls, pop3: RunningPop3, tls: ssl.SSLContext | None = None) -> Pop3Wire:
        reader, writer = await asyncio.open_connection(pop3.host, pop3.port, ssl=tls)
        wire = cls(reader, writer)
        wire.greeting = await wire.line()
        return wire

    async def line(self) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(b"\n"), TIMEOUT)

    async def command(self, text: bytes) -> bytes:
        """Send one line; the one-line reply."""
        self.writer.write(text + b"\r\n")
        return await self.line()

    async def multiline(self, text: bytes) -> tuple[bytes, bytes]:
        """Send one line; its status line and, after a +OK, its body as sent (still dot-stuffed) without
        the terminating ".CRLF"."""
        status = await self.command(text)
        if not status.startswith(b"+OK"):
            return status, b""
        lines = []
        while (line := await self.line()) != b".\r\n":
            lines.append(line)
        return status, b"".join(lines)

    async def login(self, user: str, password: str) -> bytes:
        assert (await self.command(f"USER {user}".encode())).startswith(b"+OK")
        return await self.command(f"PASS {password}".encode())

    async def closed(self) -> bool:
        """Whether the server closed the connection (nothing more to read)."""
        return await asyncio.wait_for(self.reader.read(1), TIMEOUT) == b""

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
