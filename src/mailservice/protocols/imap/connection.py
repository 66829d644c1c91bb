"""One client connection: reads complete commands (with their literals), runs them, writes replies.

Synchronising literals `{n}` get a "+ Ready" continuation; LITERAL+ `{n+}` does not. A literal over
the limit (the maximum message size for APPEND, `OTHER_LITERAL_BYTES` otherwise) is refused without
dropping the connection. Bad input is answered with BAD; the connection stays open.
"""

from __future__ import annotations

import asyncio
import logging
import re

from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.imap.capabilities import capabilities
from mailservice.protocols.imap.client_state import ClientState, State
from mailservice.protocols.imap.commands import parse_command
from mailservice.protocols.imap.dispatch import run_command
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.output import Output
from mailservice.protocols.imap.parse_error import ParseError, RefusedArgument
from mailservice.protocols.imap.replies import Disconnect
from mailservice.protocols.revocation import RevocationGuard

log = logging.getLogger(__name__)

LINE_LIMIT = 256 * 1024
OTHER_LITERAL_BYTES = 1024 * 1024
_LITERAL_AT_END = re.compile(rb"\{([0-9]{1,12})(\+?)\}\r?\n\Z")
_APPEND = re.compile(rb"[^ ]+ APPEND ", re.IGNORECASE)
_TAG = re.compile(rb"[^ \r\n]{1,64}")
_DISCARD_CHUNK = 64 * 1024


class LineTooLong(Exception):
    pass


class LiteralTooLarge(Exception):
    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        login: MailLogin,
        options: ImapOptions,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.login = login
        self.options = options
        self.out = Output(writer)
        self.revocation = RevocationGuard()
        peer = writer.get_extra_info("peername")
        self.state = ClientState(
            peer=str(peer[0]) if isinstance(peer, tuple) and peer else "unknown",
            tls=writer.get_extra_info("sslcontext") is not None,
        )

    @property
    def plaintext_auth_allowed(self) -> bool:
        return self.state.tls or self.options.allow_plaintext_auth

    def capability_text(self) -> str:
        return capabilities(
            authenticated=self.state.state in (State.AUTHENTICATED, State.SELECTED),
            starttls=not self.state.tls and self.options.tls_context is not None,
            plaintext_auth=self.plaintext_auth_allowed,
        )

    async def run(self) -> None:
        try:
            greeting = f"* OK [CAPABILITY {self.capability_text()}] {self.options.hostname} ready.\r\n"
            self.out.write(greeting.encode())
            await self.out.flush()
            while self.state.state is not State.LOGOUT:
                await self._next_command()
                if self.state.session is not None:
                    self.revocation.watch(self.state.session)
                await self.out.flush()
        except Disconnect as reason:
            await self._bye(str(reason))
        except asyncio.CancelledError:
            if not self.revocation.caused():
                raise
            await self._bye(f"Access revoked: {self.revocation.reason}.")
        except (OSError, asyncio.IncompleteReadError, EOFError) as error:
            log.debug("imap.connection_ended peer=%s error=%s", self.state.peer, type(error).__name__)
        finally:
            self.revocation.stop()
            self.writer.close()

    async def _bye(self, text: str) -> None:
        try:
            self.out.write(f"* BYE {text}\r\n".encode())
            await self.out.flush()
        except ConnectionError:
            pass

    async def _next_command(self) -> None:
        try:
            data = await asyncio.wait_for(self._read_command(), self.options.idle_timeout_seconds)
        except TimeoutError:
            raise Disconnect("Disconnected for inactivity.") from None
        except LineTooLong:
            self.out.write(b"* BAD Command line too long.\r\n")
            return
        except LiteralTooLarge as refused:
            self.out.write(f"{refused.tag} NO [LIMIT] Literal is too large.\r\n".encode())
            return
        try:
            command = parse_command(data)
        except RefusedArgument as error:
            self.out.write(f"{error.tag} NO {error.text}\r\n".encode())
            return
        except ParseError as error:
            self.out.write(f"{error.tag} BAD Error in IMAP command: {error.message}\r\n".encode())
            return
        await run_command(self, command)

    async def read_line(self) -> bytes:
        line = await self._raw_line()
        return line.rstrip(b"\r\n")

    async def _raw_line(self) -> bytes:
        try:
            line = await self.reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as overrun:
            await self._skip_line(overrun.consumed)
            raise LineTooLong() from None
        except asyncio.IncompleteReadError as incomplete:
            raise EOFError() from incomplete
        return line

    async def _skip_line(self, consumed: int) -> None:
        while True:
            await self.reader.readexactly(consumed)
            try:
                await self.reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as overrun:
                consumed = overrun.consumed

    async def _read_command(self) -> bytes:
        line = await self._raw_line()
        pieces: list[bytes] = []
        limit = self.options.max_literal_bytes if _APPEND.match(line) else OTHER_LITERAL_BYTES
        total = 0
        refused = False
        while (found := _LITERAL_AT_END.search(line)) is not None:
            size = int(found.group(1))
            synchronising = not found.group(2)
            pieces.append(line[: found.end(2) + 1] + b"\r\n")
            total += size
            if total > limit:
                if synchronising:
                    raise LiteralTooLarge(_tag_of(pieces[0]))
                refused = True
                await self._discard(size)
            else:
                if synchronising:
                    self.out.write(b"+ Ready for literal data\r\n")
                    await self.out.flush()
                pieces.append(await self.reader.readexactly(size))
            line = await self._raw_line()
        if refused:
            raise LiteralTooLarge(_tag_of(pieces[0]))
        pieces.append(line.removesuffix(b"\n").removesuffix(b"\r"))
        return b"".join(pieces)

    async def _discard(self, size: int) -> None:
        while size > 0:
            chunk = await self.reader.readexactly(min(size, _DISCARD_CHUNK))
            size -= len(chunk)

    async def upgrade_tls(self) -> None:
        context = self.options.tls_context
        assert context is not None
        buffered = getattr(self.reader, "_buffer", None)
        if buffered:
            buffered.clear()  # anything sent before the handshake is not trusted (command injection)
        await self.writer.start_tls(context)
        self.state.tls = True


def _tag_of(line: bytes) -> str:
    found = _TAG.match(line)
    return found.group(0).decode("ascii", "replace") if found else "*"
