"""The same IMAP sessions on Dovecot and on ours, commands interleaved between them, answers compared.

Named sessions ("A", "B", ...) are opened on both servers; `Dialogue.differences(script)` sends each
(session, command) to both and compares the answers in a normal form: the status word and response
code of the tagged line (not its text), and every untagged line as parsed values (an atom and a quoted
string alike), with what each server chooses for itself masked (UIDVALIDITY, the text after a response
code, CAPABILITY lists). A SELECT's `[HIGHESTMODSEQ]` counts only where Dovecot gives one
(`highestmodseq_as_reference`). The UID item of FETCH lines is left out: ours names the message's UID in
every unsolicited FETCH, Dovecot only where asked. So are LIST's \\Marked and \\Unmarked, which Dovecot
derives from its maildir's new/ directory and we do not give (RFC 3501 leaves them optional).
A command may carry synchronising literals (`{n}` then CRLF and the data): a server that answers
instead of `+` ends the command there, as a client would see it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bench.imap_wire import ImapWire, Value, parse_line

from tests.support.dovecot import ImapAccount

_SYNCHRONISING = re.compile(rb"\{(\d+)\}\r\n")
_CODE = re.compile(rb"\[([A-Z0-9.=-]+)([^\]]*)\]")
_SERVER_CHOICES = frozenset({"UIDVALIDITY", "HIGHESTMODSEQ", "CAPABILITY"})
_IGNORED_CODES = frozenset({"CLIENTBUG"})
"""Dovecot's hint that STATUS named the selected mailbox; not part of the answer."""

QUOTA_KIB = 64
"""The quota of the users the `dialogue` fixture logs in as, on both servers."""

_MARKS = frozenset({"\\MARKED", "\\UNMARKED"})

Step = tuple[str, str | bytes]
Script = Iterable[Step]
MESSAGE = b"From: a@example.org\r\nSubject: s\r\nDate: Thu, 5 Feb 2026 10:00:00 +0000\r\n\r\nbody\r\n"


def append(folder: str, flags: str = "", date: str = "", message: bytes = MESSAGE) -> bytes:
    """An APPEND of `message` with a synchronising literal; `date` as `"05-Feb-2026 10:00:00 +0000"`."""
    options = (f"({flags}) " if flags else "") + (f'"{date}" ' if date else "")
    return f"APPEND {folder} {options}{{{len(message)}}}\r\n".encode() + message


def in_folder(folder: str, steps: list[Step]) -> list[Step]:
    """`steps` after C creates `folder` and puts three messages in it."""
    setup: list[Step] = [("C", f"CREATE {folder}")]
    setup += [("C", append(folder)) for _ in range(3)]
    return setup + steps


@dataclass(frozen=True)
class Answer:
    tagged: str
    untagged: tuple[str, ...]


class Dialogue:
    def __init__(self, reference: ImapAccount, ours: ImapAccount, names: str = "AB") -> None:
        self.sessions = {name: (reference.connect(), ours.connect()) for name in names}

    def close(self) -> None:
        for pair in self.sessions.values():
            for wire in pair:
                wire.close()

    def __enter__(self) -> Dialogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def both(self, who: str, command: str | bytes) -> tuple[Answer, Answer]:
        reference, ours = self.sessions[who]
        expected = send(reference, command)
        return expected, highestmodseq_as_reference(command, expected, send(ours, command))

    def assert_same(self, script: Script) -> None:
        problems = self.differences(script)
        assert not problems, "\n".join(problems)

    def differences(self, script: Script) -> list[str]:
        """Every step whose answers differ, with both answers."""
        problems = []
        for who, command in script:
            expected, got = self.both(who, command)
            if expected != got:
                problems.append(f"{who}: {command!r:.80}\n  dovecot: {expected}\n  ours:    {got}")
        return problems


_HIGHESTMODSEQ_LINE = "* OK [HIGHESTMODSEQ]"
_OPENING = re.compile(rb"^\s*(?:SELECT|EXAMINE)\b", re.IGNORECASE)


def highestmodseq_as_reference(command: str | bytes, reference: Answer, ours: Answer) -> Answer:
    """Ours without the `[HIGHESTMODSEQ]` of a SELECT or EXAMINE that the reference's answer lacks:
    every folder of ours keeps its mod-sequences, so it always gives it (RFC 7162 section 3.1.2.1, a
    MUST); Dovecot tracks them only in a folder where CONDSTORE has once been used."""
    text = command.encode() if isinstance(command, str) else command
    if not _OPENING.match(text) or _HIGHESTMODSEQ_LINE in reference.untagged:
        return ours
    lines = list(ours.untagged)
    if _HIGHESTMODSEQ_LINE in lines:
        lines.remove(_HIGHESTMODSEQ_LINE)  # the first alone: a second would still differ
    return Answer(ours.tagged, tuple(lines))


def send(wire: ImapWire, command: str | bytes) -> Answer:
    """Send one command, its synchronising literals after each `+`; the answer in normal form."""
    data = command.encode() if isinstance(command, str) else command
    tag = wire.next_tag()
    pending = tag + b" " + data + b"\r\n"
    lines: list[bytes] = []
    while (found := _SYNCHRONISING.search(pending)) is not None:
        wire.send(pending[: found.end()])
        pending = pending[found.end() :]
        reply = wire.read_line()
        if not reply.startswith(b"+"):
            lines.append(reply)
            if reply.startswith(tag + b" "):
                return normal_answer(lines[:-1], reply)
            response = wire.read_until(tag, check=False)
            return normal_answer(lines + response.lines, response.tagged)
        lines.append(reply)
    wire.send(pending)
    response = wire.read_until(tag, check=False)
    return normal_answer(lines + response.lines, response.tagged)


def normal_answer(lines: list[bytes], tagged: bytes) -> Answer:
    return Answer(_tagged(tagged), tuple(_untagged(line) for line in lines))


def _tagged(line: bytes) -> str:
    status = line.split(b" ", 2)[1].decode()
    code = _CODE.match(line, len(line.split(b" ", 2)[0]) + len(status) + 2)
    if code is None or code.group(1).decode() in _IGNORED_CODES:
        return status
    name = code.group(1).decode()
    if name in ("APPENDUID", "COPYUID"):  # the uids, without the server's UIDVALIDITY
        return f"{status} [{name}{code.group(2).decode().split(' ', 2)[-1:]}]"
    return f"{status} [{name}{code.group(2).decode()}]"


def _untagged(line: bytes) -> str:
    if line.startswith(b"+"):
        return "+"
    values = parse_line(line)
    words = [value.upper() for value in values[1:2] if isinstance(value, str)]
    if words and words[0] in ("OK", "NO", "BAD", "BYE"):
        code = _CODE.search(line)
        if code is None:
            return f"* {words[0]}"
        name = code.group(1).decode()
        arguments = "" if name in _SERVER_CHOICES else code.group(2).decode()
        return f"* {words[0]} [{name}{arguments}]"
    if words and words[0] == "CAPABILITY":
        return "* CAPABILITY"
    if len(values) == 4 and values[2] == "FETCH" and isinstance(values[3], list):
        values[3] = _without_uid(values[3])
    if len(values) > 2 and values[1] == "LIST" and isinstance(values[2], list):
        values[2] = [value for value in values[2] if str(value).upper() not in _MARKS]
    return repr(_as_text(values))


def _without_uid(items: list[Value]) -> list[Value]:
    kept: list[Value] = []
    for name, value in zip(items[::2], items[1::2], strict=False):
        if name != "UID":
            kept += [name, value]
    return kept


def _as_text(value: Value) -> Value:
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value.upper() if value is not None and value.startswith("\\") else value
