"""The TRANSACTION and UPDATE states (RFC 1939 sections 5 and 6): commands over the login snapshot.

RETR marks the message \\Seen, in one write for the whole session when it ends (QUIT or not); DELE
only marks it for deletion; QUIT flags the marked messages \\Deleted and expunges exactly those through
the session, so IMAP sessions see them go. Clients RETR in order, so the messages after the one asked
for are read with it (up to `READ_AHEAD_MESSAGES` or `READ_AHEAD_BYTES`) and kept for the next RETR.
"""

from __future__ import annotations

from mailservice.domain.mail_session import FlagChange, MailSession
from mailservice.protocols.lines.output import Output
from mailservice.protocols.pop3.commands import Command, MessageNumber, Top
from mailservice.protocols.pop3.maildrop import SEEN, Entry, Maildrop
from mailservice.protocols.pop3.message_lines import stuffed_chunks, top_of
from mailservice.protocols.pop3.replies import Pop3Error

DELETED = "\\Deleted"
READ_AHEAD_MESSAGES = 100
READ_AHEAD_BYTES = 256 * 1024


class Transaction:
    def __init__(self, session: MailSession, maildrop: Maildrop, out: Output) -> None:
        self.session = session
        self.maildrop = maildrop
        self.out = out
        self._read_ahead: dict[int, bytes] = {}
        self._retrieved: list[Entry] = []

    async def run(self, command: Command) -> None:
        """Answers every TRANSACTION command except CAPA and QUIT."""
        match command:
            case MessageNumber(name="LIST", number=number):
                self.sizes(number)
            case MessageNumber(name="UIDL", number=number):
                self.unique_ids(number)
            case MessageNumber(name="RETR", number=int(number)):
                await self.retr(number)
            case MessageNumber(name="DELE", number=int(number)):
                self.maildrop.mark_deleted(number)
                self._ok(f"Message {number} marked to be deleted.")
            case Top(number=number, lines=lines):
                await self.top(number, lines)
            case Command(name="STAT"):
                count, size = self.maildrop.stat()
                self._ok(f"{count} {size}")
            case Command(name="NOOP"):
                self._ok("")
            case Command(name="RSET"):
                self.maildrop.reset()
                count, size = self.maildrop.stat()
                self._ok(f"Maildrop has {count} messages ({size} octets).")
            case _:
                raise Pop3Error("Command not valid in the TRANSACTION state.")

    def sizes(self, number: int | None) -> None:
        if number is not None:
            self._ok(f"{number} {self.maildrop.get(number).size}")
            return
        count, size = self.maildrop.stat()
        self._ok(f"{count} messages ({size} octets)")
        self._listing([f"{entry.number} {entry.size}" for entry in self.maildrop.present()])

    def unique_ids(self, number: int | None) -> None:
        if number is not None:
            self._ok(f"{number} {self.maildrop.unique_id(self.maildrop.get(number))}")
            return
        self._ok("")
        self._listing(
            [f"{entry.number} {self.maildrop.unique_id(entry)}" for entry in self.maildrop.present()]
        )

    async def retr(self, number: int) -> None:
        entry = self.maildrop.get(number)
        raw = await self._raw(entry)
        self._ok(f"{entry.size} octets")
        await self._send(raw)
        if not entry.seen:
            entry.seen = True
            self._retrieved.append(entry)

    async def top(self, number: int, lines: int) -> None:
        entry = self.maildrop.get(number)
        raw = await self._raw(entry)
        self._ok("")
        await self._send(top_of(raw, lines))

    async def update(self) -> str:
        """The UPDATE state: mark what was retrieved \\Seen, expunge the messages marked deleted; the
        text of the +OK."""
        await self.mark_seen()
        marked = self.maildrop.marked()
        if marked:
            folder = self.maildrop.folder_id
            await self.session.store_flags(folder, marked, FlagChange.ADD, frozenset({DELETED}))
            await self.session.expunge(folder, marked)
        left, _ = self.maildrop.stat()
        return f"{len(marked)} messages deleted, {left} left."

    async def mark_seen(self) -> None:
        """Flag the messages retrieved so far \\Seen (skipping those expunged meanwhile)."""
        retrieved, self._retrieved = self._retrieved, []
        if retrieved:
            uids = [entry.uid for entry in retrieved]
            await self.session.store_flags(self.maildrop.folder_id, uids, FlagChange.ADD, frozenset({SEEN}))

    async def _raw(self, entry: Entry) -> bytes:
        raw = self._read_ahead.pop(entry.uid, None)
        if raw is None:
            found = await self.session.raw(self.maildrop.folder_id, self._with_next(entry))
            raw = found.pop(entry.uid, None)
            self._read_ahead = found
        if raw is None:
            raise Pop3Error(f"Message {entry.number} was removed by another session.")
        return raw

    def _with_next(self, entry: Entry) -> list[int]:
        """The uid of `entry` and of the messages after it, as many as the read-ahead bounds allow."""
        uids, size = [entry.uid], entry.size
        for following in self.maildrop.entries[entry.number : entry.number + READ_AHEAD_MESSAGES - 1]:
            size += following.size
            if size > READ_AHEAD_BYTES:
                break
            if not following.deleted:
                uids.append(following.uid)
        return uids

    async def _send(self, body: bytes) -> None:
        for piece in stuffed_chunks(body):
            self.out.write(piece)
            await self.out.maybe_flush()

    def _ok(self, text: str) -> None:
        self.out.write(f"+OK {text}\r\n".encode() if text else b"+OK\r\n")

    def _listing(self, lines: list[str]) -> None:
        self.out.write("".join(f"{line}\r\n" for line in lines).encode() + b".\r\n")
