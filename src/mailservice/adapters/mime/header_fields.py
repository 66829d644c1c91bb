"""`BODY[HEADER.FIELDS (...)]` and `BODY[HEADER.FIELDS.NOT (...)]`: the fields of a header block
whose names are (or are not) listed, each with its continuation lines, followed by the blank line,
as Dovecot answers them. Also the values of one field, for SEARCH HEADER."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_LINE = re.compile(rb"[^\n]*\n|[^\n]+\Z")


def select_fields(header: bytes, names: Iterable[str], exclude: bool = False) -> bytes:
    wanted = {name.lower().encode("ascii", "replace") for name in names}
    kept = [text for name, text in _fields(header) if (name in wanted) != exclude]
    return b"".join(kept) + b"\r\n"


def field_values(header: bytes, name: str) -> list[bytes]:
    """The raw values (after the colon, continuation line breaks kept) of every `name` field."""
    wanted = name.lower().encode("ascii", "replace")
    values = []
    for field_name, text in _fields(header):
        if field_name == wanted:
            values.append(text.split(b":", 1)[1].strip(b" \t\r\n"))
    return values


def _fields(header: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(lowercased name, full text with its line ends) of each field; the blank line ends the block."""
    name: bytes | None = None
    lines: list[bytes] = []
    for match in _LINE.finditer(header):
        line = match.group(0)
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if name is not None:
                lines.append(line)
            continue
        if name is not None:
            yield name, _ended(b"".join(lines))
        colon = line.find(b":")
        name = line[:colon].rstrip(b" \t").lower() if colon > 0 else None
        lines = [line]
    if name is not None:
        yield name, _ended(b"".join(lines))


def _ended(text: bytes) -> bytes:
    if text.endswith(b"\r\n"):
        return text
    if text.endswith(b"\n"):
        return text[:-1] + b"\r\n"
    return text + b"\r\n"
