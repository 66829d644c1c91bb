"""Content-Transfer-Encoding decoding that accepts what real mail contains.

Base64 ignores characters outside the alphabet and repairs missing padding; quoted-printable drops
whitespace at line ends (transport padding) and leaves malformed `=XY` sequences as they are. Any
other encoding (7bit, 8bit, binary, unknown) is returned unchanged.
"""

from __future__ import annotations

import binascii
import re

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_TRAILING_WHITESPACE = re.compile(rb"[ \t]+(?=\r?\n|\Z)")


def b64decode_lenient(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        pass
    clean = _NOT_BASE64.sub(b"", data)
    clean = clean[: len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean
    try:
        return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
    except (binascii.Error, ValueError):
        return b""


def qp_decode(data: bytes, header: bool = False) -> bytes:
    return binascii.a2b_qp(data, header=header)


def qp_decode_body(data: bytes) -> bytes:
    """A quoted-printable body, decoded as RFC 2045 section 6.7 says: whitespace at the end of a line
    is transport padding and is dropped, so a soft break written "= " before the line end is one too."""
    return binascii.a2b_qp(_TRAILING_WHITESPACE.sub(b"", data))


def decode_body(data: bytes, encoding: str | None) -> bytes:
    if encoding == "base64":
        return b64decode_lenient(data)
    if encoding == "quoted-printable":
        return qp_decode_body(data)
    return data
