"""Mailbox names on the wire: modified UTF-7 (RFC 3501 section 5.1.3) to and from the store's text,
or UTF-8 once the client has enabled UTF8=ACCEPT (RFC 6855 section 3), with "INBOX" in any case
meaning INBOX."""

from __future__ import annotations

import base64
import re

from mailservice.protocols.imap.parse_error import RefusedArgument

_SHIFTED = re.compile(r"&([^-]*)-")
_NON_PRINTABLE = re.compile(r"[^\x20-\x7e]+")
_SHIFT_ALPHABET = re.compile(r"[A-Za-z0-9+,]+")
_INVALID = "[CANNOT] Mailbox name is not valid mUTF-7"
_INVALID_UTF8 = "[CANNOT] Mailbox name is not valid UTF-8"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def decode_mailbox(raw: bytes, tag: str = "*") -> str:
    """The name a client sent, decoded; a name that is not valid modified UTF-7 (8-bit bytes, an "&"
    that starts no encoded run, a run that is not UTF-16) is refused with NO, as Dovecot does, so that
    LIST never shows a client a name it did not send."""
    try:
        text = raw.decode("ascii")
        decoded = _SHIFTED.sub(_decode_run, text) if "&" in text else text
    except (ValueError, UnicodeDecodeError):
        raise RefusedArgument("invalid modified UTF-7 in mailbox name", _INVALID, tag) from None
    if "&" in _SHIFTED.sub("", text) or _NON_PRINTABLE.search(text):
        raise RefusedArgument("invalid modified UTF-7 in mailbox name", _INVALID, tag)
    return _inbox(decoded)


def decode_name(raw: bytes, tag: str, utf8: bool) -> str:
    """`decode_mailbox`, or after UTF8=ACCEPT the name as UTF-8 (control characters refused)."""
    if not utf8:
        return decode_mailbox(raw, tag)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedArgument("invalid UTF-8 in mailbox name", _INVALID_UTF8, tag) from None
    if _CONTROL.search(text):
        raise RefusedArgument("control character in mailbox name", _INVALID_UTF8, tag)
    return _inbox(text)


def encode_name(name: str, utf8: bool) -> bytes:
    """The name as sent to a client: UTF-8 after UTF8=ACCEPT, else modified UTF-7."""
    return name.encode("utf-8") if utf8 else encode_mailbox(name)


def _decode_run(match: re.Match[str]) -> str:
    inner = match.group(1)
    if not inner:
        return "&"
    if not _SHIFT_ALPHABET.fullmatch(inner) or len(inner) % 4 == 1:
        raise ValueError("not a modified base64 run")
    padded = inner.replace(",", "/") + "=" * (-len(inner) % 4)
    decoded = base64.b64decode(padded, validate=True).decode("utf-16-be")
    if _NON_PRINTABLE.fullmatch(decoded) is None or _encode_run_text(decoded) != "&" + inner + "-":
        raise ValueError("printable ASCII encoded, or not the shortest encoding")
    return decoded


def _inbox(name: str) -> str:
    return "INBOX" + name[5:] if name[:5].upper() == "INBOX" and name[5:6] in ("", "/") else name


def encode_mailbox(name: str) -> bytes:
    text = name.replace("&", "&-")
    return _NON_PRINTABLE.sub(_encode_run, text).encode("ascii")


def _encode_run(match: re.Match[str]) -> str:
    return _encode_run_text(match.group(0))


def _encode_run_text(text: str) -> str:
    data = base64.b64encode(text.encode("utf-16-be")).rstrip(b"=").replace(b"/", b",")
    return "&" + data.decode("ascii") + "-"
