"""Mailbox names on the wire: modified UTF-7 (RFC 3501 section 5.1.3) to and from the store's text,
with "INBOX" in any case meaning INBOX."""

from __future__ import annotations

import base64
import re

from mailservice.protocols.imap.parse_error import ParseError

_SHIFTED = re.compile(r"&([^-]*)-")
_NON_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


def decode_mailbox(raw: bytes, tag: str = "*") -> str:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        try:  # UTF-8 names from clients that do not encode: taken as they are
            return _inbox(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ParseError("mailbox name is neither modified UTF-7 nor UTF-8", tag) from None
    if "&" not in text:
        return _inbox(text)
    try:
        return _inbox(_SHIFTED.sub(_decode_run, text))
    except (ValueError, UnicodeDecodeError):
        raise ParseError("invalid modified UTF-7 in mailbox name", tag) from None


def _decode_run(match: re.Match[str]) -> str:
    inner = match.group(1)
    if not inner:
        return "&"
    padded = inner.replace(",", "/") + "=" * (-len(inner) % 4)
    return base64.b64decode(padded, validate=True).decode("utf-16-be")


def _inbox(name: str) -> str:
    return "INBOX" + name[5:] if name[:5].upper() == "INBOX" and name[5:6] in ("", "/") else name


def encode_mailbox(name: str) -> bytes:
    text = name.replace("&", "&-")
    return _NON_PRINTABLE.sub(_encode_run, text).encode("ascii")


def _encode_run(match: re.Match[str]) -> str:
    data = base64.b64encode(match.group(0).encode("utf-16-be")).rstrip(b"=").replace(b"/", b",")
    return "&" + data.decode("ascii") + "-"
