"""`BODY[HEADER.FIELDS (...)]` and `BODY[HEADER.FIELDS.NOT (...)]`: the fields of a header block
whose names are (or are not) listed, each with its continuation lines, followed by the blank line,
as Dovecot answers them (line ends as stored). Also the values of one field, for SEARCH HEADER."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

_FIELD_START = re.compile(rb"(?<=\n)(?![ \t])")


def select_fields(header: bytes, names: Iterable[str], exclude: bool = False) -> bytes:
    if not exclude:
        return b"".join(_wanted_fields(tuple(names)).findall(_block(header))) + b"\r\n"
    wanted = {name.lower().encode("ascii", "replace") for name in names}
    kept = [text for name, text in _fields(header) if name not in wanted]
    return b"".join(kept) + b"\r\n"


@lru_cache(maxsize=256)
def _wanted_fields(names: tuple[str, ...]) -> re.Pattern[bytes]:
    """Every field named in `names`, continuation lines included (one regex scan per header)."""
    alternatives = b"|".join(re.escape(name.encode("ascii", "replace")) for name in names)
    return re.compile(
        rb"^(?:" + alternatives + rb")[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*(?:\n|\Z)", re.IGNORECASE | re.MULTILINE
    )


def _block(header: bytes | bytearray) -> bytes | bytearray:
    """The header up to (not including) its blank line."""
    if header[:1] == b"\n" or header[:2] == b"\r\n":
        return b""
    ends = [found for found in (header.find(b"\n\r\n"), header.find(b"\n\n")) if found >= 0]
    return header[: min(ends) + 1] if ends else header


def field_values(header: bytes | bytearray, name: str) -> list[bytes]:
    """The raw values (after the colon, continuation line breaks kept) of every `name` field."""
    return values_by_name(header, (name,))[name.lower()]


def values_by_name(header: bytes | bytearray, names: tuple[str, ...]) -> dict[str, list[bytes]]:
    """`field_values` of each of `names` (keyed lower case), found in one scan of the header."""
    wanted = {name.lower().encode("ascii", "replace"): name.lower() for name in names}
    values: dict[str, list[bytes]] = {name: [] for name in wanted.values()}
    # a message still in its receive buffer: only its header block is copied, never the body
    block = header if isinstance(header, bytes) else bytes(_block(header))
    for field_name, text in _fields(block):
        key = wanted.get(field_name)
        if key is not None:
            values[key].append(text.split(b":", 1)[1].strip(b" \t\r\n"))
    return values


def first_values(header: bytes, names: tuple[str, ...]) -> dict[str, bytes]:
    """The value of the first field of each of `names` (lower case) present, as `field_values` gives
    it, found in one scan of the header."""
    found: dict[str, bytes] = {}
    for text in _wanted_fields(names).findall(_block(header)):
        name, _, value = text.partition(b":")
        key = name.rstrip(b" \t").lower().decode("ascii")
        if key not in found:
            found[key] = value.strip(b" \t\r\n")
    return found


def _fields(header: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(lowercased name, full text with its line ends) of each field; the blank line ends the block."""
    for text in _FIELD_START.split(_block(header)):
        colon = text.find(b":")
        if colon <= 0 or text[:1] in (b" ", b"\t"):
            continue
        yield text[:colon].rstrip(b" \t").lower(), _ended(text)


def _ended(text: bytes) -> bytes:
    return text if text.endswith(b"\n") else text + b"\r\n"
