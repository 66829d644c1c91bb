"""One header block of a message or MIME part: where it ends and the fields this package reads.

Lines end at LF (a CR before it is dropped from the value). A line starting with space or tab
continues the previous field; a line without a colon is ignored along with its continuations.
Names are compared up to a NUL, as Dovecot's C strings are. Values are the raw bytes after the
colon, continuation line breaks kept, like Dovecot's "full value": leading spaces and tabs of the
first line are skipped unless the first line has nothing else, in which case only one is.
"""

from __future__ import annotations

import re
from itertools import chain

Fields = list[tuple[bytes, bytes]]

WANTED = (
    b"date",
    b"subject",
    b"from",
    b"sender",
    b"reply-to",
    b"to",
    b"cc",
    b"bcc",
    b"in-reply-to",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"content-disposition",
    b"content-id",
    b"content-description",
    b"content-md5",
    b"content-language",
    b"content-location",
)
_NAMES = b"(" + b"|".join(re.escape(name) for name in WANTED) + b")"
_REST = rb"(?:\x00[^:\n]*)?[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)"
_FIRST_FIELD = re.compile(_NAMES + _REST, re.IGNORECASE)
_NEXT_FIELD = re.compile(b"\n" + _NAMES + _REST, re.IGNORECASE)  # "\n" first: a fast scan
_BLANK_LINE = re.compile(rb"\n\r?\n")
_SPACE_OR_END = (b"", b" ", b"\t", b"\r", b"\n")


def blank_line_end(raw: bytes, start: int, end: int) -> int | None:
    """The offset just after the first empty line in raw[start:end], or None."""
    if raw.startswith(b"\n", start) and start + 1 <= end:
        return start + 1
    if raw.startswith(b"\r\n", start) and start + 2 <= end:
        return start + 2
    match = _BLANK_LINE.search(raw, start, end)
    return None if match is None else match.end()


def read_fields(raw: bytes, start: int, end: int) -> Fields:
    """(lowercased name, value) of the wanted fields in raw[start:end], in order."""
    fields: Fields = []
    first = _FIRST_FIELD.match(raw, start, end)
    found = _NEXT_FIELD.finditer(raw, start, end)
    for match in chain((first,), found) if first is not None else found:
        name, value = match.group(1, 2)
        if value[-1:] == b"\r" and raw[match.end() : match.end() + 1] == b"\n":
            value = value[:-1]
        fields.append((name.lower(), _clean(value)))
    return fields


def _clean(value: bytes) -> bytes:
    if value[:1] == b" " and value[1:2] not in _SPACE_OR_END:
        return value[1:]  # the usual single space after the colon
    first_end = value.find(b"\n")
    first = value if first_end < 0 else value[:first_end]
    if first.endswith(b"\r") and first_end >= 0:
        first = first[:-1]
    skip = len(first) - len(first.lstrip(b" \t"))
    if skip == len(first) and skip > 0:
        skip = 1
    return value[skip:] if skip else value
