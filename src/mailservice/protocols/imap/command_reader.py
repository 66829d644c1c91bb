"""Tokens of one IMAP command (RFC 3501 section 9), read from its complete bytes.

The connection layer hands over the whole command: the first line and, for each literal `{n}` or
`{n+}` at a line end, the CRLF, the n literal bytes and the rest. Literals are read here by their
announced length, so a literal may hold any byte.
"""

from __future__ import annotations

import re

from mailservice.protocols.imap.parse_error import ParseError

_ATOM = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\\]\x80-\xff]+')
_ASTRING_ATOM = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\\x80-\xff]+')
_LIST_MAILBOX = re.compile(rb'[^(){ \x00-\x1f\x7f"\\\x80-\xff]+')
_TAG = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\+\x80-\xff]+')
_NUMBER = re.compile(rb"[0-9]{1,20}")
MAX_NUMBER = 2**32 - 1
MAX_MOD_SEQUENCE = 2**63 - 1
_QUOTED = re.compile(rb'"((?:[^"\\\r\n]|\\["\\])*)"')
_LITERAL = re.compile(rb"~?\{([0-9]{1,10})(\+?)\}\r\n")
_SEQUENCE = re.compile(rb"[0-9*:,$]+")
_FLAG = re.compile(rb'\\?[^(){ \x00-\x1f\x7f%*"\\\]\x80-\xff]+|\\\*')
_UNESCAPE = re.compile(rb'\\(["\\])')
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+=*")


class CommandReader:
    def __init__(self, data: bytes, tag: str = "*", utf8: bool = False, rev2: bool = False) -> None:
        self.data = data
        self.position = 0
        self.tag = tag
        self.utf8 = utf8
        """The client enabled UTF8=ACCEPT (or IMAP4rev2): mailbox names and strings are UTF-8."""
        self.rev2 = rev2
        """The client enabled IMAP4rev2: sizes and partial ranges are 63-bit (RFC 9051 `number64`)."""

    def error(self, message: str) -> ParseError:
        return ParseError(message, self.tag)

    def at_end(self) -> bool:
        return self.position >= len(self.data)

    def peek(self, prefix: bytes) -> bool:
        return self.data.startswith(prefix, self.position)

    def accept(self, prefix: bytes) -> bool:
        if self.peek(prefix):
            self.position += len(prefix)
            return True
        return False

    def expect(self, prefix: bytes) -> None:
        if not self.accept(prefix):
            raise self.error(f"expected {prefix.decode()!r}")

    def space(self) -> None:
        self.expect(b" ")

    def end(self) -> None:
        if not self.at_end():
            raise self.error("unexpected characters at the end of the command")

    def _match(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        found = pattern.match(self.data, self.position)
        if found is None:
            raise self.error(f"expected {what}")
        self.position = found.end()
        return found.group(0)

    def tag_token(self) -> str:
        return self._match(_TAG, "a tag").decode("ascii")

    def atom(self) -> str:
        return self._match(_ATOM, "an atom").decode("ascii")

    def number(self) -> int:
        """A `number`: an unsigned 32-bit integer (RFC 3501 section 4.2)."""
        value = int(self._match(_NUMBER, "a number"))
        if value > MAX_NUMBER:
            raise self.error("number out of range")
        return value

    def size_number(self) -> int:
        """A size or offset: a `number`, or after IMAP4rev2 a `number64` (up to 2^63 - 1)."""
        if not self.rev2:
            return self.number()
        value = int(self._match(_NUMBER, "a number"))
        if value > MAX_MOD_SEQUENCE:
            raise self.error("number out of range")
        return value

    def mod_sequence(self) -> int:
        """A `mod-sequence-value`: up to 2^63 - 1 (RFC 7162 section 7)."""
        value = int(self._match(_NUMBER, "a mod-sequence value"))
        if value > MAX_MOD_SEQUENCE:
            raise self.error("mod-sequence value out of range")
        return value

    def nz_number(self) -> int:
        value = self.number()
        if value == 0:
            raise self.error("expected a non-zero number")
        return value

    def sequence_text(self) -> bytes:
        return self._match(_SEQUENCE, "a sequence set")

    def base64_token(self) -> bytes:
        return self._match(_BASE64, "base64")

    def flag(self) -> str:
        return self._match(_FLAG, "a flag").decode("ascii")

    def string(self) -> bytes:
        if self.peek(b'"'):
            return self._quoted()
        return self._literal()

    def _quoted(self) -> bytes:
        found = _QUOTED.match(self.data, self.position)
        if found is None:
            raise self.error("unterminated or invalid quoted string")
        self.position = found.end()
        value = found.group(1)
        return _UNESCAPE.sub(rb"\1", value) if b"\\" in value else value

    def _literal(self) -> bytes:
        found = _LITERAL.match(self.data, self.position)
        if found is None:
            raise self.error("expected a string")
        size = int(found.group(1))
        start = found.end()
        if start + size > len(self.data):
            raise self.error("literal is shorter than announced")
        self.position = start + size
        return self.data[start : self.position]

    def astring(self) -> bytes:
        if self.peek(b'"') or self.peek(b"{") or self.peek(b"~{"):
            return self.string()
        return self._match(_ASTRING_ATOM, "a string")

    def nstring(self) -> bytes | None:
        if self._accept_word(b"NIL"):
            return None
        return self.string()

    def list_mailbox(self) -> bytes:
        if self.peek(b'"') or self.peek(b"{"):
            return self.string()
        return self._match(_LIST_MAILBOX, "a mailbox pattern")

    def _accept_word(self, word: bytes) -> bool:
        end = self.position + len(word)
        if self.data[self.position : end].upper() != word:
            return False
        following = self.data[end : end + 1]
        if following and _ATOM.match(following):
            return False
        self.position = end
        return True

    def accept_word(self, word: str) -> bool:
        """Accept a case-insensitive keyword followed by a non-atom character or the end."""
        return self._accept_word(word.encode("ascii"))

    def word(self) -> str:
        """An atom, uppercased (command names, keywords)."""
        return self.atom().upper()

    def parenthesized(self, item: str = "an item") -> list[bytes]:
        """A "(" list of atoms/strings ")" as raw bytes; used for simple lists."""
        self.expect(b"(")
        values: list[bytes] = []
        while not self.accept(b")"):
            if values:
                self.space()
            values.append(self.astring())
        return values

    def flag_list(self) -> list[str]:
        self.expect(b"(")
        flags: list[str] = []
        while not self.accept(b")"):
            if flags:
                self.space()
            flags.append(self.flag())
        return flags
