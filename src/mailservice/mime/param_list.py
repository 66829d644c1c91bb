"""MIME parameter lists (`; key=value ...`, RFC 2045) read the way Dovecot 2.3 reads them.

A broken parameter is skipped up to the next `;`. RFC 2231 continuations are merged but not
decoded, as IMAP wants: `name*0*=utf-8''a; name*1*=b` becomes `("name*" "utf-8''ab")`, after the
plain parameters; when indexes are missing the pieces are kept as they came. `decoded_param` gives
a value for people (RFC 2231 or RFC 2047 decoded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from .charset import decode_text
from .headers import decode_words
from .rfc822_lexer import TOKEN_CLASS, Lexer

Params = tuple[tuple[bytes, bytes], ...]
_SEMICOLON, _EQUALS, _QUOTE = b';="'
_RAW_VALUE_STOP = frozenset(b"; \t\r\n")
WS = rb"[ \t\r\n]*"
PARAM = rb';%(ws)s(%(token)s+)%(ws)s=%(ws)s(?:(%(token)s+)|"([^"\\\r\n\x00]*)")' % {
    b"ws": WS,
    b"token": TOKEN_CLASS,
}
_SIMPLE_PARAM = re.compile(PARAM)


def simple_params(text: bytes) -> Params:
    """Parameters already known to be plain `; key=token` or `; key="text"` (no RFC 2231)."""
    return tuple((key, token or quoted) for key, token, quoted in _SIMPLE_PARAM.findall(text))


def _parse_param(lexer: Lexer) -> tuple[int, bytes, bytes]:
    """One `; key=value`: (1, key, value), (0, ...) at the end, (-1, ...) when broken."""
    if lexer.pos >= lexer.end:
        return 0, b"", b""
    if lexer.data[lexer.pos] != _SEMICOLON:
        return -1, b"", b""
    lexer.pos += 1
    key = bytearray()
    if lexer.skip_lwsp() <= 0 or lexer.parse_mime_token(key) <= 0:
        return -1, b"", b""
    if lexer.data[lexer.pos] != _EQUALS:
        return -1, b"", b""
    lexer.pos += 1
    value = bytearray()
    ret = lexer.skip_lwsp()
    if ret > 0:
        char = lexer.data[lexer.pos]
        if char == _QUOTE:
            ret = lexer.parse_quoted_string(value)
        elif char == _EQUALS:
            _read_raw_value(lexer, value)
        else:
            ret = lexer.parse_mime_token(value)
    return (-1 if ret < 0 else 1), bytes(key), bytes(value)


def _read_raw_value(lexer: Lexer, value: bytearray) -> None:
    """Dovecot's workaround for `name==?utf-8?b?...?=`: take everything up to `;` or whitespace."""
    start = lexer.pos
    while lexer.pos < lexer.end and lexer.data[lexer.pos] not in _RAW_VALUE_STOP:
        lexer.pos += 1
    value += lexer.data[start : lexer.pos]


@dataclass(slots=True)
class _Continuation:
    key: bytes
    value: bytes
    index: int
    extended: bool


def parse_params(lexer: Lexer) -> Params:
    plain: list[tuple[bytes, bytes]] = []
    pieces: list[_Continuation] = []
    index = 0
    while (found := _parse_param(lexer))[0] != 0:
        ret, key, value = found
        if ret < 0:
            if lexer.pos >= lexer.end:
                break
            lexer.pos += 1
            continue
        piece, index = _continuation(key, value, index)
        if piece is None:
            plain.append((key, value))
        else:
            pieces.append(piece)
    return tuple(plain) + _merge(pieces)


def _continuation(key: bytes, value: bytes, index: int) -> tuple[_Continuation | None, int]:
    """Split `name*N*`; like Dovecot an index left out (`name*`) reuses the previous one."""
    star = key.find(b"*")
    if star < 0:
        return None, index
    rest = key[star + 1 :]
    if not rest:
        return _Continuation(key[:star], value, index, True), index
    digits = len(rest) - len(rest.lstrip(b"0123456789"))
    index = int(rest[:digits]) if digits else 0
    rest = rest[digits:]
    if rest not in (b"", b"*"):
        return None, index
    return _Continuation(key[:star], value, index, rest == b"*"), index


def _merge(pieces: list[_Continuation]) -> Params:
    pieces.sort(key=lambda piece: (piece.key, piece.index))
    merged: list[tuple[bytes, bytes]] = []
    start = 0
    while start < len(pieces):
        stop = start
        name = pieces[start].key.lower()
        while stop < len(pieces) and pieces[stop].key.lower() == name:
            stop += 1
        merged.extend(_merge_group(pieces[start:stop]))
        start = stop
    return tuple(merged)


def _merge_group(group: list[_Continuation]) -> list[tuple[bytes, bytes]]:
    if any(piece.index != position for position, piece in enumerate(group)):
        return [(_numbered_key(piece), piece.value) for piece in group]
    extended = any(piece.extended for piece in group)
    value = b"''" if extended and not group[0].extended else b""
    for piece in group:
        escape = extended and not piece.extended
        value += piece.value.replace(b"%", b"%25") if escape else piece.value
    return [(group[0].key + (b"*" if extended else b""), value)]


def _numbered_key(piece: _Continuation) -> bytes:
    return b"%s*%d%s" % (piece.key, piece.index, b"*" if piece.extended else b"")


def param(params: Params, name: bytes) -> bytes | None:
    """The first value of a parameter, name compared case-insensitively."""
    for key, value in params:
        if key.lower() == name:
            return value
    return None


def decoded_param(params: Params, name: bytes) -> str | None:
    """A parameter for people: RFC 2231 `name*` first, else `name` with RFC 2047 words decoded."""
    extended = param(params, name + b"*")
    if extended is not None:
        return _decode_rfc2231(extended)
    value = param(params, name)
    return None if value is None else decode_words(value)


def _decode_rfc2231(value: bytes) -> str:
    parts = value.split(b"'", 2)
    if len(parts) != 3:
        return decode_text(unquote_to_bytes(value), None)
    charset = parts[0].decode("ascii", "replace") or None
    return decode_text(unquote_to_bytes(parts[2]), charset)
