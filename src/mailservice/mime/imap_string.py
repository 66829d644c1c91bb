"""IMAP strings (RFC 3501 section 4.3) written byte for byte the way Dovecot 2.3 writes them.

- `nstring`: NIL for None; a quoted string when the value has no CR, LF or 8-bit byte and at most
  four quoted-specials (`"` and `\\`, which get a backslash); otherwise a literal `{n}\\r\\n...`.
  A NUL ends the value, as it does in Dovecot.
- `nstring_nolf`: the same after removing every CR and LF (used for Date, Message-ID, Content-ID...).
- `for_humans`: for subjects and display names. Runs of space, tab, CR and LF become one space,
  leading and trailing ones go, NUL becomes U+FFFD; when anything had to change, or the value has a
  quoted-special or an 8-bit byte, it is sent as a literal ("" when nothing but whitespace is left).
- `imap_text`/`imap_bytes`: the codec between these bytes and the `str` texts `MessageStructure` stores.
  Only the IMAP server encodes, but the pair stays here, next to the rule it undoes. The literals the
  server writes around message bytes (NUL sent as 0x80, literal8) are its own: `fetch_response.py`.
"""

from __future__ import annotations

import re

NIL = b"NIL"
_NEEDS_LITERAL = re.compile(rb"[\r\n\x80-\xff]")
_PLAIN = re.compile(rb'[^\r\n"\\\x00\x80-\xff]*\Z')
_QUOTED_SPECIAL = re.compile(rb'["\\]')
_MAX_ESCAPES = 4
_HUMAN_CHANGE = re.compile(rb'[\t\r\n"\\\x00\x80-\xff]|  |^ | $')
_WHITESPACE_RUN = re.compile(rb"[ \t\r\n]+")
_REPLACEMENT = "\ufffd".encode()


def literal(value: bytes) -> bytes:
    return b"{%d}\r\n" % len(value) + value


def quoted(value: bytes) -> bytes:
    return b'"' + _QUOTED_SPECIAL.sub(rb"\\\g<0>", value) + b'"'


def nstring(value: bytes | None) -> bytes:
    if value is None:
        return NIL
    if _PLAIN.match(value) is not None:
        return b'"' + value + b'"'
    if b"\x00" in value:
        value = value[: value.index(b"\x00")]  # Dovecot's C strings end there
    if _NEEDS_LITERAL.search(value) is None:
        escapes = value.count(b'"') + value.count(b"\\")
        if escapes == 0:
            return b'"' + value + b'"'
        if escapes <= _MAX_ESCAPES:
            return quoted(value)
    return literal(value)


def nstring_nolf(value: bytes | None) -> bytes:
    if value is not None and (b"\r" in value or b"\n" in value):
        value = value.replace(b"\r", b"").replace(b"\n", b"")
    return nstring(value)


def for_humans(value: bytes | None) -> bytes:
    if value is None:
        return NIL
    if _HUMAN_CHANGE.search(value) is None:
        return b'"' + value + b'"'
    cleaned = _WHITESPACE_RUN.sub(b" ", without_nuls(value)).strip(b" ")
    return literal(cleaned) if cleaned else b'""'


def without_nuls(value: bytes) -> bytes:
    """NULs replaced by U+FFFD, as Dovecot stores header values."""
    return value.replace(b"\x00", _REPLACEMENT) if b"\x00" in value else value


def imap_bytes(text: str) -> bytes:
    """The bytes to send for one of MimeMessage's IMAP texts."""
    return text.encode("utf-8", "surrogateescape")


def imap_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")
