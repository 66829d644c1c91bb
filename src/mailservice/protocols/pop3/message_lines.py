"""What RETR and TOP send of a stored message: CRLF line ends, dot-stuffed, in chunks.

Stored messages have CRLF line ends (delivery converts bare LFs); a message appended over IMAP with
bare LFs is sent with CRLFs anyway. The stuffing is applied chunk by chunk, so a large message is never
copied whole once more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

CHUNK_BYTES = 64 * 1024
_BARE_LF = re.compile(rb"(?<!\r)\n")


def top_of(raw: bytes, lines: int) -> bytes:
    """The header, the blank line after it, and the first `lines` lines of the body (RFC 1939 TOP)."""
    header_end = _body_start(raw)
    end = header_end
    for _ in range(lines):
        if end >= len(raw):
            break
        newline = raw.find(b"\n", end)
        end = len(raw) if newline < 0 else newline + 1
    return raw[:end]


def _body_start(raw: bytes) -> int:
    if raw.startswith(b"\r\n"):
        return 2
    if raw.startswith(b"\n"):
        return 1
    candidates = [found + 4 for found in (raw.find(b"\r\n\r\n"),) if found >= 0]
    candidates += [found + 2 for found in (raw.find(b"\n\n"),) if found >= 0]
    return min(candidates) if candidates else len(raw)


def stuffed_chunks(raw: bytes, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """`raw` as a multi-line response body: CRLF line ends, a dot doubled at the start of a line, a
    final CRLF when it has none, then the terminating ".CRLF"."""
    at_line_start = True
    after_cr = False
    for start in range(0, len(raw), chunk_bytes):
        piece = _with_crlf(raw[start : start + chunk_bytes], after_cr)
        if b"\n." in piece:
            piece = piece.replace(b"\n.", b"\n..")
        if at_line_start and piece.startswith(b"."):
            piece = b"." + piece
        at_line_start = piece.endswith(b"\n")
        after_cr = piece.endswith(b"\r")
        yield piece
    yield b".\r\n" if at_line_start else b"\r\n.\r\n"


def _with_crlf(piece: bytes, after_cr: bool) -> bytes:
    if piece.count(b"\n") == piece.count(b"\r\n"):
        return piece
    fixed = _BARE_LF.sub(b"\r\n", piece)
    if after_cr and piece.startswith(b"\n"):
        fixed = fixed[1:]  # the CR ended the previous chunk
    return fixed
