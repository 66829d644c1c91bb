"""A raw IMAP client for tests: sends lines exactly as written and returns the server's lines up to
the tagged reply, so responses can be compared byte for byte. Also starts an IMAP server over an
in-memory mailbox."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

import httpx

from mailservice.bootstrap import Runtime
from mailservice.protocols.imap.fields_cache import FieldsCache
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.memory_mail_session import MemoryMailLogin

ADDRESS = "agent@agents.test"
PASSWORD = "derived-password"
_LITERAL = re.compile(rb"\{([0-9]+)\}\r\n\Z")
TIMEOUT = 10


@dataclass
class RunningImap:
    login: MemoryMailLogin
    host: str
    port: int
    options: ImapOptions


@asynccontextmanager
async def running_imap(login: MemoryMailLogin | None = None, **overrides: Any) -> AsyncIterator[RunningImap]:
    login = login or MemoryMailLogin()
    settings = replace(ImapOptions(port=0, allow_plaintext_auth=True), **overrides)
    server = await start_imap(login, settings)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        yield RunningImap(login, host, port, settings)
    finally:
        server.close()
        await server.wait_closed()


class Wire:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = b""

    @classmethod
    async def connect(cls, imap: RunningImap, tls: ssl.SSLContext | None = None) -> Wire:
        reader, writer = await asyncio.open_connection(imap.host, imap.port, ssl=tls)
        wire = cls(reader, writer)
        wire.greeting = await wire.line()
        return wire

    async def line(self) -> bytes:
        """One response line; a literal it announces is read and kept inside it."""
        line = await asyncio.wait_for(self.reader.readuntil(b"\n"), TIMEOUT)
        while (found := _LITERAL.search(line)) is not None:
            line += await asyncio.wait_for(self.reader.readexactly(int(found.group(1))), TIMEOUT)
            line += await asyncio.wait_for(self.reader.readuntil(b"\n"), TIMEOUT)
        return line

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def command(self, text: bytes, tag: bytes = b"t") -> list[bytes]:
        """Send `tag text`; every line up to and including the tagged one."""
        self.send(tag + b" " + text + b"\r\n")
        return await self.until(tag)

    async def until(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = await self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    async def login(self) -> None:
        reply = await self.command(b"LOGIN " + ADDRESS.encode() + b" " + PASSWORD.encode())
        assert reply[-1].startswith(b"t OK"), reply

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


async def idling(port: int, address: str, password: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the IMAP listener on `port`, logged in, with INBOX selected and IDLE started."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(f"a LOGIN {address} {password}\r\nb SELECT INBOX\r\nc IDLE\r\n".encode())
    async with asyncio.timeout(TIMEOUT):
        while not (await reader.readline()).startswith(b"+ "):
            pass
    return reader, writer


async def logged_in_wire(
    runtime: Runtime, client: httpx.AsyncClient, cache: FieldsCache
) -> AsyncIterator[Wire]:
    """A new paid mailbox, an IMAP server over the store of `runtime` with `cache`, and a `Wire`
    logged in to it (the server stops when the iteration ends)."""
    details = await claim_and_pay(client, AgentKey.generate())
    options = ImapOptions(port=0, allow_plaintext_auth=True, fields_cache=cache)
    server = await start_imap(runtime.services.mail_access, options)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    wire = Wire(reader, writer)
    wire.greeting = await wire.line()
    try:
        login = await wire.command(f"LOGIN {details['email']} {details['password']}".encode())
        assert login[-1].startswith(b"t OK")
        yield wire
    finally:
        await wire.close()
        server.close()
        await server.wait_closed()
