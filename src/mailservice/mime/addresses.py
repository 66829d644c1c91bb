"""Address lists (RFC 5322 section 3.4) parsed with Dovecot's recovery rules, for ENVELOPE.

The result keeps group markers: a group start has only `mailbox` (the group's name), a group end
has nothing. What Dovecot fills in for IMAP (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR,
INVALID_ROUTE) is recorded as flags, so that callers wanting real values see None instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rfc822_lexer import ATEXT_CLASS, Lexer

GROUP_START, GROUP_END, MAILBOX = 1, 2, 3
_QUOTE, _AT, _LT, _GT, _COLON, _SEMICOLON, _COMMA = b'"@<>:;,'


@dataclass(slots=True)
class RawAddress:
    kind: int = MAILBOX
    name: bytes | None = None
    route: bytes | None = None
    mailbox: bytes | None = None
    domain: bytes | None = None
    syntax_error: bool = False
    invalid_route: bool = False
    invalid: bool = False


class _Parser:
    def __init__(self, value: bytes) -> None:
        self.lexer = Lexer(value)
        self.text = bytearray()
        self.current = RawAddress()
        self.found: list[RawAddress] = []

    def char(self) -> int:
        return self.lexer.peek()

    def add(self, kind: int) -> None:
        self.current.kind = kind
        self.found.append(self.current)
        self.current = RawAddress()

    def parse_local_part(self) -> int:
        self.text.clear()
        if self.char() == _QUOTE:
            ret = self.lexer.parse_quoted_string(self.text)
        else:
            ret = self.lexer.parse_loose_local_part(self.text)
        if ret < 0:
            return -1
        self.current.mailbox = bytes(self.text)
        return ret

    def parse_domain(self) -> int:
        self.text.clear()
        ret = self.lexer.parse_domain(self.text)
        if ret < 0:
            return -1
        self.current.domain = bytes(self.text)
        return ret

    def parse_route(self) -> int:
        self.text.clear()
        while self.lexer.pos < self.lexer.end:
            if self.char() != _AT:
                self.current.route = bytes(self.text)
                return 1
            if self.text:
                self.text += b","
            self.text += b"@"
            if (ret := self.lexer.parse_domain(self.text)) <= 0:
                return ret
            while self.lexer.skip_lwsp() > 0 and self.char() == _COMMA:
                self.lexer.pos += 1
        return 0

    def parse_angle_addr(self) -> int:
        self.lexer.pos += 1
        if self.lexer.skip_lwsp() <= 0:
            return -1
        if self.char() == _AT:
            if self.parse_route() > 0 and self.char() == _COLON:
                self.lexer.pos += 1
            else:
                self.current.invalid_route = True
                if self.lexer.pos >= self.lexer.end:
                    return -1
            if self.lexer.skip_lwsp() <= 0:
                return -1
        if self.char() != _GT:
            if self.parse_local_part() <= 0:
                return -1
            if self.char() == _AT and self.parse_domain() <= 0:
                return -1
        if self.char() != _GT:
            return -1
        self.lexer.pos += 1
        return self.lexer.skip_lwsp()

    def parse_name_addr(self) -> int:
        self.text.clear()
        if self.lexer.parse_phrase(self.text) <= 0 or self.char() != _LT:
            return -1
        self.current.name = bytes(self.text) or None
        if self.parse_angle_addr() < 0:
            self.current.syntax_error = True
            self.current.invalid = True
        return 1 if self.lexer.pos < self.lexer.end else 0

    def parse_addr_spec(self) -> int:
        self.lexer.last_comment = b""
        quoted = self.char() == _QUOTE
        ret, ret2 = self.parse_local_part(), -2
        if ret <= 0:
            self.current.invalid = True
        if ret != 0 and self.char() == _AT:
            ret2 = self.parse_domain()
            if ret2 <= 0:
                ret = ret2
        if self.lexer.last_comment:
            self.current.name = self.lexer.last_comment
        elif ret2 == -2:
            ret = self._local_part_or_phrase(quoted)
        return ret

    def _local_part_or_phrase(self, quoted: bool) -> int:
        """A lone word is a mailbox without a domain; more words make a display name."""
        self.text += b" "
        before = len(self.text)
        self.lexer.parse_phrase(self.text)
        if len(self.text) != before:
            self.current.mailbox = None
            self.current.name = bytes(self.text)
        elif not quoted:
            self.current.domain = b""
        self.current.invalid = True
        return -1

    def parse_mailbox(self) -> int:
        start = self.lexer.pos
        ret = self.parse_name_addr()
        if ret < 0:
            self.lexer.pos = start
            ret = self.parse_addr_spec()
            current = self.current
            lone_word = current.mailbox is not None and current.domain is None
            if current.invalid and current.name is None and lone_word:
                current.name, current.mailbox = current.mailbox, None
        if ret < 0:
            self.current.invalid = True
        self.add(MAILBOX)
        return ret

    def parse_group(self) -> int:
        self.text.clear()
        if self.lexer.parse_phrase(self.text) <= 0 or self.char() != _COLON:
            return -1
        self.lexer.pos += 1
        ret = self.lexer.skip_lwsp()
        self.current.mailbox = bytes(self.text)
        self.add(GROUP_START)
        if ret > 0 and self.char() != _SEMICOLON:
            ret = self._group_members()
        if ret >= 0:
            if self.char() != _SEMICOLON:
                ret = -1
            else:
                self.lexer.pos += 1
                ret = self.lexer.skip_lwsp()
        self.add(GROUP_END)
        return 0 if ret == 0 else 1

    def _group_members(self) -> int:
        while True:
            self.parse_mailbox()
            if self.char() != _COMMA:
                return 1
            self.lexer.pos += 1
            if self.lexer.skip_lwsp() <= 0:
                return -1

    def parse_address(self) -> int:
        start = self.lexer.pos
        ret = self.parse_group()
        if ret < 0:
            self.lexer.pos = start
            self.current = RawAddress()
            ret = self.parse_mailbox()
        return ret

    def parse_list(self) -> None:
        if self.lexer.skip_lwsp() <= 0:
            return
        while self.parse_address() != 0:
            if self.char() != _COMMA:
                return
            self.lexer.pos += 1
            ret = self.lexer.skip_lwsp()
            if ret < 0:
                self.add(MAILBOX)
            if ret <= 0:
                return


_SPACE = rb"[ \t\r\n]*"
_DOT_ATOM = ATEXT_CLASS + rb"+(?:\." + ATEXT_CLASS + rb"+)*"
_WORD = ATEXT_CLASS + rb"[^\x00-\x20\"(),:;<>@\[\\\]\x7f]*|\"[^\"\\\r\n\x00]*\""
_NAME_WORD = re.compile(_WORD)
_SIMPLE_ITEM = re.compile(
    rb"%(s)s(?:((?:%(w)s)(?:[ \t\r\n]+(?:%(w)s))*)?%(s)s<(%(a)s)@(%(a)s)>|(%(a)s)@(%(a)s))%(s)s(?:,|\Z)"
    % {b"s": _SPACE, b"w": _WORD, b"a": _DOT_ATOM}
)


def simple_list(value: bytes) -> list[RawAddress] | None:
    """The common `a@b, Name <c@d>, "Quoted, Name" <e@f>` shapes, read without the full parser."""
    found: list[RawAddress] = []
    position, end = 0, len(value)
    while position < end:
        match = _SIMPLE_ITEM.match(value, position)
        if match is None or match.end() == position:
            return None
        phrase, local, domain, bare_local, bare_domain = match.groups()
        if bare_local is not None:
            found.append(RawAddress(mailbox=bare_local, domain=bare_domain))
        else:
            name = b" ".join(word.strip(b'"') for word in _NAME_WORD.findall(phrase or b""))
            found.append(RawAddress(name=name or None, mailbox=local, domain=domain))
        position = match.end()
    return found or None


def parse_address_list(value: bytes) -> list[RawAddress]:
    """The addresses of one header value, in order, group markers included."""
    simple = simple_list(value)
    return read_address_list(value) if simple is None else simple


def read_address_list(value: bytes) -> list[RawAddress]:
    """`parse_address_list` without the shortcut for simple lists."""
    parser = _Parser(value)
    parser.parse_list()
    return parser.found
