"""One POP3 connection: the AUTHORIZATION state (CAPA, STLS, USER/PASS, AUTH PLAIN), then a
`Transaction` over the maildrop, and UPDATE on QUIT.

Every failure is an `-ERR` and the connection stays open, except after too many invalid commands,
the login deadline or an idle timeout, which end it without entering UPDATE (nothing marked is
deleted). A line that cannot be held within the process's memory budget gets `-ERR [SYS/TEMP]`.
"""

from __future__ import annotations

import asyncio
import logging
from enum import Enum

from mailservice.domain.errors import DomainError
from mailservice.domain.mail_session import MailLogin, MailSession
from mailservice.protocols.lines.connection import LineConnection, TimedOut
from mailservice.protocols.lines.line_reader import LineTooLong, OverBudget
from mailservice.protocols.lines.output import DeadlineOutput, Stalled
from mailservice.protocols.lines.sasl_plain import InvalidBase64, PlainRefused, decode_plain
from mailservice.protocols.lines.stop import ConnectionStops
from mailservice.protocols.pop3.commands import Auth, Command, ParseError, Pass, User, parse_command
from mailservice.protocols.pop3.locks import MaildropLocks
from mailservice.protocols.pop3.maildrop import Maildrop, NoSuchMessage
from mailservice.protocols.pop3.options import LINE_LIMIT, Pop3Options
from mailservice.protocols.pop3.replies import Disconnect, Pop3Error, from_domain_error
from mailservice.protocols.pop3.transaction import Transaction
from mailservice.protocols.revocation import RevocationGuard

log = logging.getLogger(__name__)

MAX_INVALID_COMMANDS = 20
INBOX = "INBOX"


class State(Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    DONE = "done"


BUSY = "Server is busy, try again later."
SHUTTING_DOWN = "[SYS/TEMP] Server shutting down."
"""When the service stops (`protocols/lines/stop.py`): the session ends as if cut, without UPDATE."""


class Connection(LineConnection):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        login: MailLogin,
        options: Pop3Options,
        locks: MaildropLocks,
        stops: ConnectionStops,
    ) -> None:
        super().__init__(reader, writer, options.policy, stops)
        self.login = login
        self.options = options
        self.locks = locks
        self.out = DeadlineOutput(writer, options.policy.idle_timeout_seconds)
        self.state = State.AUTHORIZATION
        self.username: str | None = None
        self.locked: str | None = None
        self.transaction: Transaction | None = None
        self.invalid_commands = 0
        self.revocation = RevocationGuard()

    @property
    def plaintext_auth_allowed(self) -> bool:
        return self.tls or self.options.allow_plaintext_auth

    async def run(self) -> None:
        try:
            self.out.write(f"+OK {self.options.hostname} POP3 ready.\r\n".encode())
            await self.out.flush()
            while self.state is not State.DONE:
                if self.stop.requested:
                    raise Disconnect(SHUTTING_DOWN)
                try:
                    await self._next_command()
                finally:
                    self.command_done()
                if self.transaction is not None:
                    self.revocation.watch(self.transaction.session)
                await self.out.flush()
        except (Disconnect, TimedOut) as reason:
            await self._last_words(f"-ERR {reason}\r\n")
        except asyncio.CancelledError:
            if self.stop.caused():  # what was retrieved is marked \Seen below; nothing is deleted
                await self._last_words(f"-ERR {SHUTTING_DOWN}\r\n")
            elif self.revocation.caused():
                self.transaction = None  # a revoked session changes nothing more, not even \Seen
                await self._last_words(f"-ERR [AUTH] Access revoked: {self.revocation.reason}.\r\n")
            else:
                raise
        except Stalled:
            log.info("pop3.client_stalled peer=%s", self.peer)
            self.writer.transport.abort()
        except (OSError, asyncio.IncompleteReadError, EOFError) as error:
            log.debug("pop3.connection_ended peer=%s error=%s", self.peer, type(error).__name__)
        finally:
            try:
                await self._mark_seen()
            finally:
                self.stop.leave()
                self.revocation.stop()
                if self.locked is not None:
                    self.locks.release(self.locked)
                await self.close()

    async def _mark_seen(self) -> None:
        """A session that ended without QUIT still marks what it retrieved \\Seen (and deletes nothing)."""
        if self.transaction is None:
            return
        try:
            await self.transaction.mark_seen()
        except DomainError as error:
            log.warning("pop3.mark_seen_failed error=%s", error.code)

    async def _last_words(self, text: str) -> None:
        try:
            self.out.write(text.encode())
            await self.out.flush()
            self.said_goodbye()
        except ConnectionError:
            pass

    async def _next_command(self) -> None:
        try:
            with self.stop.waiting():
                line = await self._read_line()
            command = parse_command(line)
        except LineTooLong:
            self._invalid("Line too long.")
            return
        except OverBudget:
            self.out.write(Pop3Error(BUSY, "SYS/TEMP").line())
            return
        except ParseError as error:
            self._invalid(error.message)
            return
        self.invalid_commands = 0
        try:
            with self.options.metrics.command(command.name):
                await self._run(command)
        except Pop3Error as failure:
            self.out.write(failure.line())
        except NoSuchMessage as missing:
            self.out.write(Pop3Error(missing.message).line())
        except DomainError as error:
            self.out.write(from_domain_error(error).line())
        except (Disconnect, OSError, EOFError, asyncio.IncompleteReadError):
            raise
        except Exception as error:
            log.error(
                "pop3.command_failed command=%s error=%s: %s", command.name, type(error).__name__, error
            )
            self.out.write(b"-ERR [SYS/TEMP] Internal error occurred.\r\n")

    def _invalid(self, text: str) -> None:
        self.invalid_commands += 1
        if self.invalid_commands >= MAX_INVALID_COMMANDS:
            raise Disconnect("Too many invalid commands.")
        self.out.write(Pop3Error(text).line())

    async def _run(self, command: Command) -> None:
        if command.name == "CAPA":
            self._capabilities()
        elif command.name == "QUIT":
            await self._quit()
        elif self.transaction is not None:
            await self.transaction.run(command)
        else:
            await self._authorization(command)

    async def _authorization(self, command: Command) -> None:
        if isinstance(command, User):
            self._require_privacy()
            self.username = command.username
            self.out.write(b"+OK\r\n")
        elif isinstance(command, Pass):
            username, self.username = self.username, None
            if username is None:
                raise Pop3Error("USER first.")
            await self._log_in(username, command.password)
        elif isinstance(command, Auth):
            await self._authenticate(command)
        elif command.name == "STLS":
            await self._starttls()
        else:
            raise Pop3Error("Log in first (USER and PASS, or AUTH PLAIN).")

    def _capabilities(self) -> None:
        lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self.plaintext_auth_allowed:
                lines += ["USER", "SASL PLAIN"]
            if not self.tls and self.options.tls_context is not None:
                lines.append("STLS")
        self.out.write(
            ("+OK Capability list follows.\r\n" + "".join(f"{x}\r\n" for x in lines) + ".\r\n").encode()
        )

    async def _quit(self) -> None:
        text = "Logging out."
        if self.transaction is not None:
            try:
                text = f"Logging out, {await self.transaction.update()}"
            except DomainError as error:
                log.warning("pop3.update_failed error=%s", error.code)
                self.state = State.DONE
                raise Pop3Error("Some deleted messages were not removed.", "SYS/TEMP") from None
        self.state = State.DONE
        self.out.write(f"+OK {text}\r\n".encode())

    async def _starttls(self) -> None:
        context = self.options.tls_context
        if self.tls:
            raise Pop3Error("TLS is already active.")
        if context is None:
            raise Pop3Error("STLS is not available.")
        self.out.write(b"+OK Begin TLS negotiation.\r\n")
        await self.out.flush()
        await self.start_tls(context)
        self.username = None

    async def _authenticate(self, command: Auth) -> None:
        if command.mechanism is None:
            self.out.write(b"+OK Supported mechanisms follow.\r\nPLAIN\r\n.\r\n")
            return
        if command.mechanism != "PLAIN":
            raise Pop3Error("Unsupported authentication mechanism.")
        self._require_privacy()
        response = command.initial
        if response is None:
            self.out.write(b"+ \r\n")
            await self.out.flush()
            response = await self._read_line()
            if response == b"*":
                raise Pop3Error("Authentication cancelled.")
        try:
            plain = decode_plain(response)
        except InvalidBase64:
            raise Pop3Error("Invalid base64 data.") from None
        except PlainRefused:
            raise Pop3Error("Authentication failed.", "AUTH") from None
        await self._log_in(plain.username, plain.password)

    def _require_privacy(self) -> None:
        if not self.plaintext_auth_allowed:
            raise Pop3Error(
                "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.", "AUTH"
            )

    async def _log_in(self, username: str, password: str) -> None:
        self._require_privacy()
        session = await self.login.login(username, password, self.peer)
        if not self.locks.acquire(session.address):
            session.end()
            raise Pop3Error("Mailbox is locked by another POP3 session.", "IN-USE")
        self.locked = session.address
        maildrop = await self._open(session)
        self.transaction = Transaction(session, maildrop, self.out)
        self.state = State.TRANSACTION
        self.mark_logged_in()
        count, size = maildrop.stat()
        self.out.write(f"+OK Logged in, {count} messages ({size} octets).\r\n".encode())

    async def _open(self, session: MailSession) -> Maildrop:
        try:
            return Maildrop.of(await session.open(INBOX))
        except BaseException:
            assert self.locked is not None
            self.locks.release(self.locked)
            self.locked = None
            session.end()
            raise

    async def _read_line(self) -> bytes:
        line = await self.within_deadline(self.lines.line(LINE_LIMIT))
        return line.removesuffix(b"\n").removesuffix(b"\r")
