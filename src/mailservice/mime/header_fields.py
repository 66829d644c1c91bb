"""`BODY[HEADER.FIELDS (...)]` and `BODY[HEADER.FIELDS.NOT (...)]`: the fields of a header block
whose names are (or are not) listed, each with its continuation lines, followed by the blank line,
as Dovecot answers them (line ends as stored). Also the values of one field, for SEARCH HEADER."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

_FIELD_START = re.compile(rb"(?<=\n)(?![ \t])")
_BLANK_LINE = re.compile(rb"\n\r?\n")


def select_fields(header: bytes, names: Iterable[str], exclude: bool = False) -> bytes:
    return field_picker(tuple(names), exclude)(header)


@lru_cache(maxsize=256)
def field_picker(names: tuple[str, ...], exclude: bool = False) -> Callable[[bytes], bytes]:
    """`select_fields` for one field list, made once: a header sync runs it for every message."""
    if exclude:
        wanted = frozenset(name.lower().encode("ascii", "replace") for name in names)
        return lambda header: (
            b"".join([text for name, text in _fields(header) if name not in wanted]) + b"\r\n"
        )
    pattern: re.Pattern[bytes] | None = None  # compiled when first needed: a sync of common fields may not

    def pick(header: bytes) -> bytes:
        nonlocal pattern
        if pattern is None:
            pattern = fields_pattern(names)
        # the fields are looked for up to the blank line in place, without copying the block out
        return b"".join(pattern.findall(header, 0, block_end(header))) + b"\r\n"

    return pick


@lru_cache(maxsize=256)
def fields_pattern(names: tuple[str, ...]) -> re.Pattern[bytes]:
    """Every field named in `names`, continuation lines included (one regex scan per header): from a
    line that starts with one of the names, then blanks and a colon, to the end of its last
    continuation line and its line end."""
    alternatives = b"|".join(re.escape(name.encode("ascii", "replace")) for name in names)
    return re.compile(
        rb"^(?:" + alternatives + rb")[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*(?:\n|\Z)", re.IGNORECASE | re.MULTILINE
    )


def _block(header: bytes | bytearray) -> bytes | bytearray:
    """The header up to (not including) its blank line."""
    end = block_end(header)
    return header if end == len(header) else header[:end]


def block_end(header: bytes | bytearray) -> int:
    """Where the header's blank line starts (its length when it has none)."""
    if header[:1] == b"\n" or header[:2] == b"\r\n":
        return 0
    found = _BLANK_LINE.search(header)
    return len(header) if found is None else found.start() + 1


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
    for text in fields_pattern(names).findall(_block(header)):
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
