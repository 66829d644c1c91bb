"""Content-Type, Content-Disposition, Content-Transfer-Encoding and Content-Language values, read
the way Dovecot 2.3 reads them, so that BODYSTRUCTURE matches.

Content-Type "type/subtype" must be followed by nothing or by parameters; otherwise it is broken
(type and subtype b""). A lone "type" has an empty subtype, except "multipart", which Dovecot reads
as application/octet-stream. Common simple values are matched by one regular expression first.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .param_list import PARAM, WS, Params, parse_params, simple_params
from .rfc822_lexer import TOKEN_CLASS, Lexer

_SEMICOLON, _SLASH, _COMMA = b";/,"


class ContentType(NamedTuple):
    """`type` is b"" for a broken header; `subtype` is b"" when missing."""

    type: bytes
    subtype: bytes
    params: Params

    @property
    def full(self) -> bytes:
        """What Dovecot's parser saw: "type/subtype", just "type" without a subtype, b"" if broken."""
        return self.type + b"/" + self.subtype if self.subtype else self.type


BROKEN = ContentType(b"", b"", ())
OCTET_STREAM = ContentType(b"application", b"octet-stream", ())  # Dovecot's reading of a bare "multipart"


_SIMPLE_TYPE = re.compile(
    rb"%(ws)s(%(token)s+)%(ws)s/%(ws)s(%(token)s+)%(ws)s((?:%(param)s%(ws)s)*)(?:;%(ws)s)?\Z"
    % {b"ws": WS, b"token": TOKEN_CLASS, b"param": PARAM}
)
_SIMPLE_VALUE = re.compile(
    rb"%(ws)s(%(token)s+)%(ws)s((?:%(param)s%(ws)s)*)(?:;%(ws)s)?\Z"
    % {b"ws": WS, b"token": TOKEN_CLASS, b"param": PARAM}
)


def parse_content_type(value: bytes) -> ContentType:
    simple = _SIMPLE_TYPE.match(value)
    if simple is not None and b"*" not in simple.group(3):
        return ContentType(simple.group(1), simple.group(2), simple_params(simple.group(3)))
    return read_content_type(value)


def read_content_type(value: bytes) -> ContentType:
    """`parse_content_type` without the shortcut for simple values."""
    lexer = Lexer(value)
    if lexer.skip_lwsp() <= 0:
        return BROKEN
    main = bytearray()
    ret = lexer.parse_mime_token(main)
    if ret <= 0 and main:
        return OCTET_STREAM if main.lower() == b"multipart" else ContentType(bytes(main), b"", ())
    if ret <= 0 or not main or lexer.data[lexer.pos] != _SLASH:
        return BROKEN
    lexer.pos += 1
    if lexer.skip_lwsp() <= 0:
        return BROKEN
    sub = bytearray()
    ret = lexer.parse_mime_token(sub)
    if ret < 0 or not sub or (ret > 0 and lexer.data[lexer.pos] != _SEMICOLON):
        return BROKEN
    return ContentType(bytes(main), bytes(sub), parse_params(lexer))


def parse_disposition(value: bytes) -> tuple[bytes, Params] | None:
    simple = _SIMPLE_VALUE.match(value)
    if simple is not None and b"*" not in simple.group(2):
        return simple.group(1), simple_params(simple.group(2))
    lexer = Lexer(value)
    lexer.skip_lwsp()
    token = bytearray()
    if lexer.parse_mime_token(token) < 0:
        return None
    return bytes(token), parse_params(lexer)


def parse_transfer_encoding(value: bytes) -> bytes | None:
    simple = _SIMPLE_VALUE.match(value)
    if simple is not None and not simple.group(2):
        return simple.group(1)
    lexer = Lexer(value)
    lexer.skip_lwsp()
    token = bytearray()
    if lexer.parse_mime_token(token) >= 0 and lexer.skip_lwsp() == 0 and token:
        return bytes(token)
    return None


def parse_language(value: bytes) -> tuple[bytes, ...] | None:
    lexer = Lexer(value)
    lexer.skip_lwsp()
    languages: list[bytes] = []
    atom = bytearray()
    while lexer.parse_atom(atom) >= 0:
        languages.append(bytes(atom))
        atom.clear()
        if lexer.peek() != _COMMA:
            break
        lexer.pos += 1
        lexer.skip_lwsp()
    return tuple(languages) or None
