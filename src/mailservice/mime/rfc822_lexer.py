"""RFC 822 / RFC 2045 lexical scanning of one header value, with Dovecot's leniency.

NULs inside quoted strings, comments and domain literals become U+FFFD, and line breaks inside
quoted strings and comments are dropped (giving up when fewer than two bytes follow one), as in
Dovecot 2.3.
Every `parse_*` method appends what it read to `out` and returns 1 when more input follows
(whitespace and comments after the token already skipped), 0 at the end of the input, -1 on a
syntax error, like Dovecot's rfc822-parser so that callers can take the same decisions.
"""

from __future__ import annotations

import re

_ATEXT = (
    set(b"!#$%&'*+-/=?^_`{|}~")
    | set(range(ord("0"), ord("9") + 1))
    | set(range(ord("A"), ord("Z") + 1))
    | set(range(ord("a"), ord("z") + 1))
    | set(range(0x80, 0x100))
)
_TOKEN = (_ATEXT - set(b"/=?")) | {ord(".")}
ATEXT_BYTES = frozenset(_ATEXT)


def char_class(chars: set[int]) -> bytes:
    """A regular expression character class `[...]` matching these bytes."""
    return b"[" + b"".join(re.escape(bytes([c])) for c in sorted(chars)) + b"]"


def _run_of(chars: set[int]) -> re.Pattern[bytes]:
    return re.compile(char_class(chars) + b"*")


ATEXT_CLASS = char_class(_ATEXT)
TOKEN_CLASS = char_class(_TOKEN)


_ATEXT_RUN = _run_of(_ATEXT)
_ATEXT_OR_DOT_RUN = _run_of(_ATEXT | {ord(".")})
_TOKEN_RUN = _run_of(_TOKEN)
_LWSP_RUN = re.compile(rb"[ \t\r\n]*")
REPLACEMENT = "\ufffd".encode()  # what Dovecot puts for a NUL in quoted strings, comments and literals
_LWSP_OR_COMMENT = frozenset(b" \t\r\n(")
_QUOTED_STOP = re.compile(rb'["\\\n\x00]')
_COMMENT_STOP = re.compile(rb"[()\\\n\x00]")
_LITERAL_SPECIAL = re.compile(rb"[\[\]\\\x00-\x08\x0a-\x1f\x7f]")
_OPEN_BRACKET, _CLOSE_BRACKET = b"[]"
_QUOTE, _BACKSLASH, _CR, _LF, _OPEN, _DOT, _AT = b'"\\\r\n(.@'


def _run_end(pattern: re.Pattern[bytes], data: bytes, position: int) -> int:
    """Where a run of `pattern` (which may be empty) starting at `position` ends."""
    found = pattern.match(data, position)
    return position if found is None else found.end()


class Lexer:
    """A cursor over one header value; `last_comment` holds the text of the last comment skipped."""

    __slots__ = ("data", "end", "last_comment", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.last_comment = b""

    def peek(self) -> int:
        """The current byte, or -1 at the end."""
        return self.data[self.pos] if self.pos < self.end else -1

    def skip_lwsp(self) -> int:
        data = self.data
        if self.pos < self.end and data[self.pos] not in _LWSP_OR_COMMENT:
            return 1
        while True:
            self.pos = _run_end(_LWSP_RUN, data, self.pos)
            if self.pos >= self.end or data[self.pos] != _OPEN:
                return 1 if self.pos < self.end else 0
            if self.skip_comment() < 0:
                return -1

    def skip_comment(self) -> int:
        data, level, pieces = self.data, 1, []
        self.pos += 1
        start = self.pos
        while (m := _COMMENT_STOP.search(data, self.pos)) is not None:
            self.pos = m.start()
            char = data[self.pos]
            if char == _BACKSLASH:
                if self.pos + 1 >= self.end:
                    break
                pieces.append(data[start : self.pos])
                start = self.pos + 1
                self.pos += 2
                continue
            if char == 0:
                pieces += (data[start : self.pos], REPLACEMENT)
                self.pos = start = self.pos + 1
                continue
            if char == _LF:
                if self.pos + 2 >= self.end:
                    break
                pieces.append(data[start : self._before_cr(start)])
                self.pos = start = self.pos + 1
                continue
            level += 1 if char == _OPEN else -1
            self.pos += 1
            if level == 0:
                pieces.append(data[start : self.pos - 1])
                self.last_comment = b"".join(pieces)
                return 1 if self.pos < self.end else 0
        self.last_comment = b"".join(pieces)
        self.pos = self.end
        return -1

    def _before_cr(self, start: int) -> int:
        """The position of the line break at `pos`, a CR before the LF included."""
        return self.pos - 1 if self.pos > start and self.data[self.pos - 1] == _CR else self.pos

    def _run(self, pattern: re.Pattern[bytes], out: bytearray) -> int:
        end = _run_end(pattern, self.data, self.pos)
        out += self.data[self.pos : end]
        self.pos = end
        return 0 if end >= self.end else self.skip_lwsp()

    def parse_atom(self, out: bytearray) -> int:
        if self.peek() not in ATEXT_BYTES:
            return -1
        return self._run(_ATEXT_RUN, out)

    def parse_mime_token(self, out: bytearray) -> int:
        return self._run(_TOKEN_RUN, out)

    def parse_atom_or_dot(self, out: bytearray) -> int:
        return self._run(_ATEXT_OR_DOT_RUN, out)

    def parse_dot_atom(self, out: bytearray) -> int:
        if self.peek() not in ATEXT_BYTES:
            return -1
        while True:
            ret = self._run(_ATEXT_RUN, out)
            if ret <= 0:
                return ret
            if self.data[self.pos] != _DOT:
                return 1
            self.pos += 1
            out += b"."
            if self.skip_lwsp() <= 0 or self.data[self.pos] not in ATEXT_BYTES:
                return -1  # Dovecot 2.3 refuses an empty atom after a dot

    def parse_loose_local_part(self, out: bytearray) -> int:
        """Atoms and dots in any order (".a..b."), as Dovecot accepts before an @ in ENVELOPE."""
        ret = -1
        while True:
            while self.pos < self.end and self.data[self.pos] == _DOT:
                out += b"."
                self.pos += 1
                ret = 1
            if self.pos >= self.end:
                return 0
            if self.data[self.pos] == _AT:
                return ret
            ret = self.parse_atom(out)
            if ret <= 0 or self.data[self.pos] != _DOT:
                return ret

    def parse_quoted_string(self, out: bytearray) -> int:
        data = self.data
        self.pos += 1
        start = self.pos
        while (m := _QUOTED_STOP.search(data, self.pos)) is not None:
            self.pos = m.start()
            char = data[self.pos]
            if char == _QUOTE:
                out += data[start : self.pos]
                self.pos += 1
                return self.skip_lwsp()
            if char == 0:
                out += data[start : self.pos] + REPLACEMENT
                self.pos = start = self.pos + 1
                continue
            if char == _LF:
                if self.pos + 2 >= self.end:
                    break  # Dovecot gives up on a fold too close to the end
                out += data[start : self._before_cr(start)]
                self.pos = start = self.pos + 1
                continue
            if self.pos + 1 >= self.end:
                break
            out += data[start : self.pos]
            start = self.pos + 1
            self.pos += 2
        self.pos = self.end
        return -1

    def parse_phrase(self, out: bytearray) -> int:
        if self.pos >= self.end:
            return 0
        if self.data[self.pos] == _DOT:
            return -1
        while True:
            quoted = self.data[self.pos] == _QUOTE
            ret = self.parse_quoted_string(out) if quoted else self.parse_atom_or_dot(out)
            if ret <= 0:
                return ret
            char = self.data[self.pos]
            if char not in ATEXT_BYTES and char not in (_QUOTE, _DOT):
                return self.skip_lwsp()
            out += b" "

    def parse_domain(self, out: bytearray) -> int:
        self.pos += 1
        if self.skip_lwsp() <= 0:
            return -1
        if self.data[self.pos] == ord("["):
            return self._parse_domain_literal(out)
        return self.parse_dot_atom(out)

    def _parse_domain_literal(self, out: bytearray) -> int:
        """`[...]`, kept with its brackets and backslashes; like Dovecot 2.3 a second `[` is an error
        and control characters other than tab (CR and LF included) are dropped."""
        data, literal = self.data, bytearray(b"[")
        self.pos += 1
        while (m := _LITERAL_SPECIAL.search(data, self.pos)) is not None:
            literal += data[self.pos : m.start()]
            self.pos = m.start() + 1
            char = data[m.start()]
            if char == _CLOSE_BRACKET:
                out += literal + b"]"
                return self.skip_lwsp()
            if char == _OPEN_BRACKET:
                break
            if char == _BACKSLASH:
                if self.pos >= self.end:
                    break
                literal += data[m.start() : self.pos + 1]
                self.pos += 1
            elif char == 0:
                literal += REPLACEMENT
        self.pos = self.end
        return -1
