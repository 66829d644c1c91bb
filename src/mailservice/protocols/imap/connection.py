"""One client connection: reads complete commands (with their literals), runs them, writes replies.

Synchronising literals `{n}` get a "+ Ready" continuation; LITERAL+ `{n+}` does not. Every byte of
a command (lines and literals) is charged to the connection's memory share; a literal that is
refused (too large, over the share, an APPEND over the mailbox's quota or to a folder that does
not exist, or before login in any command but LOGIN and AUTHENTICATE) is refused before its
continuation, or read and dropped when it is non-synchronising, and the connection stays open.
Before login a refused non-synchronising literal or a command over the share ends the connection.
After login an APPEND literal over `spool_threshold_bytes` goes to a temporary file and is read
back only when the command is complete. Bad input is answered with BAD.
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import AbstractContextManager
from typing import BinaryIO

from mailservice.domain.errors import DomainError, MailboxFull
from mailservice.domain.mail_session import MailLogin
from mailservice.protocols.imap.capabilities import capabilities
from mailservice.protocols.imap.client_state import ClientState, State
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.commands import Command, IdArgs, parse_command
from mailservice.protocols.imap.dispatch import run_command
from mailservice.protocols.imap.mailbox_names import decode_name
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.parse_error import ParseError, RefusedArgument
from mailservice.protocols.imap.replies import Disconnect, from_domain_error
from mailservice.protocols.lines.connection import LineConnection, TimedOut
from mailservice.protocols.lines.line_reader import LineTooLong, OverBudget
from mailservice.protocols.lines.output import Output
from mailservice.protocols.lines.stop import ConnectionStops
from mailservice.protocols.revocation import RevocationGuard

log = logging.getLogger(__name__)

LINE_LIMIT = 256 * 1024
OTHER_LITERAL_BYTES = 1024 * 1024
_LITERAL_AT_END = re.compile(rb"\{([0-9]{1,12})(\+?)\}\r?\n\Z")
_APPEND = re.compile(rb"[^ ]+ APPEND ", re.IGNORECASE)
_LOGIN = re.compile(rb"[^ ]+ (?:LOGIN|AUTHENTICATE) ", re.IGNORECASE)
_TAG = re.compile(rb"[^ \r\n]{1,64}")
_LONG_ID = re.compile(rb"([^ \r\n]{1,64}) ID \(", re.IGNORECASE)

TOO_LARGE = "NO [LIMIT] Literal is too large."
OVER_SHARE = "NO [LIMIT] Too much data in one command."
BUSY = "NO [LIMIT] Server is busy, try again later."
LOG_IN_FIRST = "BAD Log in first."
OVER_BUDGET = "Too much data in one command."
SHUTTING_DOWN = "Server shutting down."
"""Dovecot's words when the service stops (`protocols/lines/stop.py`)."""

Piece = bytes | BinaryIO


class CommandRefused(Exception):
    def __init__(self, tag: str, reply: str) -> None:
        super().__init__(reply)
        self.line = f"{tag} {reply}\r\n".encode()


class Connection(LineConnection):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        login: MailLogin,
        options: ImapOptions,
        stops: ConnectionStops,
    ) -> None:
        super().__init__(reader, writer, options.policy, stops)
        self.login = login
        self.options = options
        self.out = Output(writer)
        self.revocation = RevocationGuard()
        self.state = ClientState(peer=self.peer, tls=self.tls)

    def waiting_for_client(self) -> AbstractContextManager[None]:
        return self.stop.waiting()

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
                if self.stop.requested:
                    raise Disconnect(SHUTTING_DOWN)
                await self._one_command()
                if self.state.session is not None:
                    self.revocation.watch(self.state.session)
                await self.out.flush()
        except (Disconnect, TimedOut) as reason:
            await self._bye(str(reason))
        except OverBudget:
            log.info("imap.command_over_budget peer=%s", self.peer)
            await self._bye(OVER_BUDGET)
        except asyncio.CancelledError:
            if self.stop.caused():
                await self._bye(SHUTTING_DOWN)
            elif self.revocation.caused():
                await self._bye(f"Access revoked: {self.revocation.reason}.")
            else:
                raise
        except (OSError, asyncio.IncompleteReadError, EOFError) as error:
            log.debug("imap.connection_ended peer=%s error=%s", self.peer, type(error).__name__)
        finally:
            self.stop.leave()
            self.revocation.stop()
            self.command_done()
            await self.close()

    async def _bye(self, text: str) -> None:
        try:
            self.out.write(f"* BYE {text}\r\n".encode())
            await self.out.flush()
            self.said_goodbye()
        except ConnectionError:
            pass

    async def _one_command(self) -> None:
        try:
            await self._next_command()
        finally:
            self.command_done()
        if not self.logged_in and self.state.state in (State.AUTHENTICATED, State.SELECTED):
            self.mark_logged_in()

    async def _next_command(self) -> None:
        try:
            data = await self.within_deadline(self._read_command())
        except LineTooLong as too_long:
            await self._too_long(too_long.head)
            return
        except CommandRefused as refused:
            self.out.write(refused.line)
            return
        try:
            command = parse_command(data, utf8=self.state.utf8, rev2=self.state.rev2)
        except RefusedArgument as error:
            self.out.write(f"{error.tag} NO {error.text}\r\n".encode())
            return
        except ParseError as error:
            self.out.write(f"{error.tag} BAD Error in IMAP command: {error.message}\r\n".encode())
            return
        with self.options.metrics.command(f"UID {command.name}" if command.uid else command.name):
            await run_command(self, command)

    async def _too_long(self, head: bytes) -> None:
        """A line over the limit has been dropped. An ID is answered all the same: RFC 2971 lets a
        client send about 32 KiB of fields, more than a command before login may hold, and the
        server keeps none of them."""
        found = _LONG_ID.match(head)
        if found is None:
            self.out.write(b"* BAD Command line too long.\r\n")
            return
        with self.options.metrics.command("ID"):
            await run_command(self, Command(found.group(1).decode("ascii", "replace"), "ID", IdArgs(None)))

    async def read_line(self) -> bytes:
        reading = self.lines.line(self._line_limit())
        line = await (reading if self.logged_in else self.within_deadline(reading))
        return line.rstrip(b"\r\n")

    def _line_limit(self) -> int:
        return LINE_LIMIT if self.logged_in else self.policy.login_buffer_bytes

    async def _read_command(self) -> bytes:
        with self.stop.waiting():  # a stop does not cut the literals of a command begun
            first = line = await self.lines.line(self._line_limit())
        tag = _tag_of(first)
        pieces: list[Piece] = []
        refusal: str | None = None
        literal_bytes = 0
        try:
            while (found := _LITERAL_AT_END.search(line)) is not None:
                size = int(found.group(1))
                pieces.append(line[: found.end(2) + 1] + b"\r\n")
                literal_bytes += size
                refusal = refusal or await self._literal_refusal(first, literal_bytes, len(pieces) == 1)
                if refusal is None:
                    refusal = await self._take_literal(first, size, tag, not found.group(2), pieces)
                else:
                    await self._refuse_literal(size, tag, refusal, not found.group(2))
                line = await self.lines.line(self._line_limit())
            if refusal is not None:
                raise CommandRefused(tag, refusal)
            pieces.append(line.removesuffix(b"\n").removesuffix(b"\r"))
            return self._assembled(pieces, tag)
        finally:
            _close_spooled(pieces)

    async def _literal_refusal(self, first: bytes, literal_bytes: int, first_literal: bool) -> str | None:
        if not self.logged_in:
            return None if _LOGIN.match(first) else LOG_IN_FIRST
        if not _APPEND.match(first):
            return TOO_LARGE if literal_bytes > OTHER_LITERAL_BYTES else None
        if literal_bytes > self.options.max_literal_bytes:
            return TOO_LARGE
        return await self._append_refusal(first, literal_bytes, first_literal)

    async def _append_refusal(self, first: bytes, literal_bytes: int, first_literal: bool) -> str | None:
        """What an APPEND will fail with is known before its data, as Dovecot knows it: a folder that
        does not exist (TRYCREATE), messages that cannot fit in the quota (OVERQUOTA)."""
        session = self.state.session
        if session is None:
            return None
        mailbox = _append_mailbox(first, self.state.utf8) if first_literal else None
        try:
            quota = await (session.quota_for_append(mailbox) if mailbox is not None else session.quota())
            if not quota.allows(literal_bytes):
                raise MailboxFull("the messages do not fit in the quota")
        except DomainError as error:
            return from_domain_error(error, target_missing=True).reply()
        return None

    async def _take_literal(
        self, first: bytes, size: int, tag: str, synchronising: bool, pieces: list[Piece]
    ) -> str | None:
        """Read an admitted literal into `pieces`; or the refusal if it does not fit in memory."""
        spooled = self.logged_in and size > self.options.spool_threshold_bytes and _APPEND.match(first)
        if not spooled and not self.memory.try_take(size):
            await self._refuse_literal(size, tag, OVER_SHARE, synchronising)
            return OVER_SHARE
        if synchronising:
            self.out.write(b"+ Ready for literal data\r\n")
            await self.out.flush()
        pieces.append(await (self.lines.spool(size) if spooled else self.lines.exactly(size)))
        return None

    async def _refuse_literal(self, size: int, tag: str, refusal: str, synchronising: bool) -> None:
        """A synchronising literal is refused before the client sends it; a non-synchronising one
        is read and dropped (after login) or ends the connection (before login: nobody to serve)."""
        if synchronising:
            raise CommandRefused(tag, refusal)
        if not self.logged_in:
            raise Disconnect("Literal refused before login.")
        await self.lines.discard(size)

    def _assembled(self, pieces: list[Piece], tag: str) -> bytes:
        spooled = [piece for piece in pieces if not isinstance(piece, bytes)]
        if spooled:
            size = sum(_size_of(file) for file in spooled)
            if not self.memory.try_take_beyond_share(size):
                raise CommandRefused(tag, BUSY)
        return b"".join(piece if isinstance(piece, bytes) else piece.read() for piece in pieces)

    async def upgrade_tls(self) -> None:
        context = self.options.tls_context
        assert context is not None
        await self.start_tls(context)
        self.state.tls = True


def _append_mailbox(first: bytes, utf8: bool) -> str | None:
    """The folder an APPEND's first line names, when it is not itself a literal."""
    reader = CommandReader(first.rstrip(b"\r\n"), utf8=utf8)
    try:
        reader.tag_token()
        reader.space()
        reader.word()
        reader.space()
        return decode_name(reader.astring(), "*", reader.utf8)
    except ParseError:
        return None


def _tag_of(line: bytes) -> str:
    found = _TAG.match(line)
    return found.group(0).decode("ascii", "replace") if found else "*"


def _size_of(file: BinaryIO) -> int:
    size = file.seek(0, 2)
    file.seek(0)
    return size


def _close_spooled(pieces: list[Piece]) -> None:
    for piece in pieces:
        if not isinstance(piece, bytes):
            piece.close()
