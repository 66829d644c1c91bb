"""A small blocking IMAP client that keeps the server's bytes: for comparing two servers and loading them.

Python's imaplib rewrites bare LF to CRLF in APPEND and parses answers lossily, so it can neither load
identical bytes into two servers nor show exactly what each answered. `ImapWire` sends commands as
given and returns every response line with its literals inline; `parse_line` turns a response into
values (atoms as `str`, strings and literals, literal8 too, as `bytes`, NIL as None, parenthesised lists
as lists).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

Value = str | bytes | None | list["Value"]

_LITERAL_END = re.compile(rb"~?\{(\d+)\+?\}\r\n$")


class ImapError(Exception):
    """A command ended in NO or BAD, or the server went away."""


@dataclass
class Response:
    """Everything the server sent for one command: untagged and continuation lines, then the tagged one."""

    lines: list[bytes] = field(default_factory=list)
    tagged: bytes = b""

    @property
    def ok(self) -> bool:
        return self.tagged.split(b" ", 2)[1:2] == [b"OK"]

    def untagged(self, kind: str) -> list[list[Value]]:
        """Parsed `* ...` lines whose first or second word is `kind` (e.g. FETCH, SEARCH, STATUS)."""
        found = []
        for line in self.lines:
            if not line.startswith(b"* "):
                continue
            values = parse_line(line)
            words = [v.upper() for v in values[1:3] if isinstance(v, str)]
            if kind.upper() in words:
                found.append(values)
        return found


class ImapWire:
    """One connection. `command("FETCH 1 BODY[]")` adds the tag and returns the `Response`."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = self.sock.makefile("rb")
        self.greeting = self.read_line()
        self._counter = 0

    def __enter__(self) -> ImapWire:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def read_line(self) -> bytes:
        """One response line with any literals it announces read inline."""
        line = self._readline()
        while (match := _LITERAL_END.search(line)) is not None:
            data = self.stream.read(int(match.group(1)))
            line += data + self._readline()
        return line

    def _readline(self) -> bytes:
        line = self.stream.readline()
        if not line:
            raise ImapError("connection closed by the server")
        return line

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_tag(self) -> bytes:
        self._counter += 1
        return b"T%d" % self._counter

    def command(self, text: str | bytes, *, check: bool = True) -> Response:
        tag = self.next_tag()
        raw = text.encode() if isinstance(text, str) else text
        self.send(tag + b" " + raw + b"\r\n")
        return self.read_until(tag, check=check)

    def read_until(self, tag: bytes, *, check: bool = True) -> Response:
        response = Response()
        while True:
            line = self.read_line()
            if line.startswith(tag + b" "):
                response.tagged = line.rstrip(b"\r\n")
                if check and not response.ok:
                    raise ImapError(response.tagged.decode(errors="replace"))
                return response
            response.lines.append(line)

    def login(self, user: str, password: str) -> Response:
        return self.command(f"LOGIN {quote(user)} {quote(password)}")

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: tuple[str, ...] = (),
        internal_date: datetime | None = None,
    ) -> Response:
        """APPEND `raw` exactly as given, with a synchronising literal."""
        tag = self.next_tag()
        parts = [tag, b"APPEND", quote(folder).encode()]
        if flags:
            parts.append(("(" + " ".join(flags) + ")").encode())
        if internal_date is not None:
            parts.append(b'"' + internal_date.strftime("%d-%b-%Y %H:%M:%S %z").encode() + b'"')
        parts.append(b"{%d}" % len(raw))
        self.send(b" ".join(parts) + b"\r\n")
        answer = self.read_line()
        if not answer.startswith(b"+"):
            raise ImapError(f"APPEND refused: {answer!r}")
        self.send(raw + b"\r\n")
        return self.read_until(tag)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_line(line: bytes) -> list[Value]:
    """Split one response line (literals inline, as `ImapWire.read_line` gives it) into values."""
    return _Parser(line.removesuffix(b"\r\n")).values(closing=None)


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def values(self, closing: int | None) -> list[Value]:
        items: list[Value] = []
        while True:
            self._skip_spaces()
            if self.pos >= len(self.data) or self.data[self.pos] in b"\r\n":
                return items
            char = self.data[self.pos]
            if closing is not None and char == closing:
                self.pos += 1
                return items
            items.append(self._value())

    def _skip_spaces(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] == 0x20:
            self.pos += 1

    def _value(self) -> Value:
        char = self.data[self.pos]
        if char == 0x28:  # (
            self.pos += 1
            return self.values(closing=0x29)
        if char == 0x22:  # "
            return self._quoted()
        if char == 0x7B or self.data.startswith(b"~{", self.pos):  # { or a literal8 (BINARY)
            return self._literal()
        atom = self._atom()
        return None if atom.upper() == "NIL" else atom

    def _quoted(self) -> bytes:
        out = bytearray()
        self.pos += 1
        while self.data[self.pos] != 0x22:
            if self.data[self.pos] == 0x5C:  # backslash
                self.pos += 1
            out.append(self.data[self.pos])
            self.pos += 1
        self.pos += 1
        return bytes(out)

    def _literal(self) -> bytes:
        end = self.data.index(b"}", self.pos)
        size = int(self.data[self.data.index(b"{", self.pos) + 1 : end].rstrip(b"+"))
        start = end + 3  # "}\r\n"
        self.pos = start + size
        return self.data[start : self.pos]

    def _atom(self) -> str:
        start = self.pos
        depth = 0
        while self.pos < len(self.data):
            char = self.data[self.pos]
            if char == 0x5B:  # [
                depth += 1
            elif char == 0x5D:  # ]
                depth -= 1
            elif depth == 0 and char in b" ()\r\n":
                break
            self.pos += 1
        return self.data[start : self.pos].decode("latin-1")


def fetch_items(response: Response) -> dict[int, dict[str, Value]]:
    """The FETCH answers of `response` by sequence number, each as item name -> value."""
    found: dict[int, dict[str, Value]] = {}
    for values in response.untagged("FETCH"):
        number, items = values[1], values[3]
        assert isinstance(number, str) and isinstance(items, list), values
        pairs = found.setdefault(int(number), {})
        for name, value in zip(items[::2], items[1::2], strict=True):
            assert isinstance(name, str), items
            pairs[name.upper()] = value
    return found


def search_numbers(response: Response) -> list[int]:
    """The numbers of the `* SEARCH` answers of `response`, in the order sent."""
    numbers: list[int] = []
    for values in response.untagged("SEARCH"):
        numbers.extend(int(v) for v in values[2:] if isinstance(v, str) and v.isdigit())
    return numbers
