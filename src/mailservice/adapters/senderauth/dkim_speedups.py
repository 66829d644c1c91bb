"""Faster equivalents of dkimpy's hot spots, installed in its place (its version is pinned for it).

- A key record is parsed once: dkimpy decodes the base64 and walks the ASN.1 of the public key at
  every signature it verifies. The parsed key is kept by (name, record text), so a record that
  changes in DNS is parsed anew, and how long a record is believed stays the DNS cache's business.
- Relaxed canonicalization ran regular expressions that stop at every space of the text: "compress
  whitespace" rewrote each single space into a single space, and "strip trailing whitespace" tried a
  match at each space. Now bytes replaces (tabs to spaces, then double spaces halved until none is
  left) and a split into lines; unfolding is a bytes replace too, where a module-level `re.sub` looked
  its pattern up in the regular expression cache at every header.
- A message is split into header lines and body without splitting the body into lines and joining
  it again, when its body has no bare LF (always, for what the SMTP listener hands over).

Each gives the very answers of the function it replaces; tests/unit/test_sender_auth_dkim_speedups.py
compares them on generated input.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import dkim
import dkim.canonicalization

KEY_CACHE_SIZE = 1024

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_FIELD_NAME = re.compile(rb"([\x21-\x7e]+?):")

_original_rfc822_parse = dkim.rfc822_parse
_original_evaluate_pk = dkim.evaluate_pk


def install() -> None:
    dkim.load_pk_from_dns = load_pk_from_dns
    dkim.canonicalization.compress_whitespace = compress_whitespace
    dkim.canonicalization.unfold_header_value = unfold_header_value
    dkim.canonicalization.strip_trailing_whitespace = strip_trailing_whitespace
    dkim.rfc822_parse = rfc822_parse


def load_pk_from_dns(name: bytes, dnsfunc: Any = dkim.get_txt, timeout: float = 5) -> tuple[Any, ...]:
    """What dkimpy's function answers; the parsing of a record it has seen is not done again."""
    record = dnsfunc(name, timeout=timeout)
    if not isinstance(record, bytes):
        return tuple(_original_evaluate_pk(name, record))  # None or text: dkimpy's own errors
    return _evaluated_key(name, record)


@lru_cache(maxsize=KEY_CACHE_SIZE)
def _evaluated_key(name: bytes, record: bytes) -> tuple[Any, ...]:
    """(public key, key size, key type, tlsrpt service); a record dkimpy refuses raises, and is not kept."""
    return tuple(_original_evaluate_pk(name, record))


def compress_whitespace(content: bytes) -> bytes:
    """Every run of spaces and tabs as one space (RFC 6376 §3.4.2 and §3.4.4)."""
    content = content.replace(b"\t", b" ")
    while b"  " in content:  # each pass halves every run
        content = content.replace(b"  ", b" ")
    return content


def unfold_header_value(content: bytes) -> bytes:
    """The value without its line breaks (CRLF or LF; a lone CR stays, as with dkimpy's pattern)."""
    return content.replace(b"\r\n", b"").replace(b"\n", b"")


def strip_trailing_whitespace(content: bytes) -> bytes:
    """Spaces and tabs before each CRLF removed (the text after the last CRLF is left as it is)."""
    lines = content.split(b"\r\n")
    last = lines.pop()
    return b"\r\n".join([*(line.rstrip(b" \t") for line in lines), last])


def rfc822_parse(message: bytes) -> tuple[list[list[bytes]], bytes]:
    """dkimpy's (headers, body): [name, value with its line ends] per field, and the body in CRLF."""
    end = _HEADER_END.search(message)
    if end is None or message[:1] in (b"\r", b"\n"):
        return _original_rfc822_parse(message)  # type: ignore[no-any-return]
    body = message[end.end() :]
    if body.count(b"\n") != body.count(b"\r\n"):
        body = b"\r\n".join(_LINE_END.split(body))
    return _header_fields(_LINE_END.split(message[: end.start()])), body


def _header_fields(lines: list[bytes]) -> list[list[bytes]]:
    """dkimpy's loop over the header lines (continuations appended, mbox `From ` lines skipped)."""
    headers: list[list[bytes]] = []
    for line in lines:
        if line[:1] in (b"\t", b" "):
            headers[-1][1] += line + b"\r\n"
            continue
        match = _FIELD_NAME.match(line)
        if match is not None:
            headers.append([match.group(1), line[match.end(0) :] + b"\r\n"])
        elif not line.startswith(b"From "):
            raise dkim.MessageFormatError(f"Unexpected characters in RFC822 header: {line!r}")
    return headers
