"""`BODY[section]` contents (RFC 3501 section 6.4.5) as slices of the raw message.

Part numbers are followed the way Dovecot follows them: inside a multipart, N is its N-th part; a
part that is not a multipart answers only to 1, which means the part itself, and only at the end of
the path unless it is a message/rfc822, whose enclosed message the next number then enters. So
"1.1" is part 1 again when part 1 is a leaf (but not for a single-part message), and "2.1" is the
body of a message/rfc822 part 2 that encloses a single-part message.

`N.HEADER` and `N.TEXT` exist for message/rfc822 parts only; `N.MIME` is the part's own header
(for the body of a single-part message, that is the message header). HEADER.FIELDS is handled
elsewhere. Where Dovecot answers an empty string for a section that does not exist, this returns
None: the caller sends "" (or NIL) for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from .parsed import PartInfo


class PartsIndex(Protocol):
    """What section lookup needs: a `MimeMessage`, or a `StoredParts` rebuilt from the store."""

    @property
    def header_end(self) -> int: ...

    @property
    def content_type(self) -> str: ...

    @property
    def parts(self) -> tuple[PartInfo, ...]: ...


@dataclass(frozen=True, slots=True)
class StoredParts:
    header_end: int
    content_type: str
    parts: tuple[PartInfo, ...]


def stored_parts(header_end: int, content_type: str, parts_json: str) -> StoredParts:
    """The parts index of a stored message, from the `parts_json` kept at delivery."""
    return StoredParts(header_end, content_type, _parts(parts_json))


@lru_cache(maxsize=4096)
def _parts(parts_json: str) -> tuple[PartInfo, ...]:
    return tuple(PartInfo(**part) for part in json.loads(parts_json))


_SUFFIXES = frozenset({"", "HEADER", "TEXT", "MIME"})


def section_bytes(raw: bytes, parsed: PartsIndex, section: str) -> bytes | None:
    """The bytes of BODY[section] (section as in "1.2.MIME"), exactly as stored."""
    numbers, suffix = _split(section)
    if numbers is None or suffix not in _SUFFIXES:
        return None
    if not numbers:
        return _top_level(raw, parsed, suffix)
    part = _resolve(parsed, numbers)
    return None if part is None else _of_part(raw, part, suffix)


def section_part(parsed: PartsIndex, section: str) -> PartInfo | None:
    """The part that a bare part path ("1.2") names, or None (for "" too: that is the message)."""
    numbers, suffix = _split(section)
    if not numbers or suffix:
        return None
    return _resolve(parsed, numbers)


def _split(section: str) -> tuple[list[int] | None, str]:
    pieces = section.split(".") if section else []
    numbers: list[int] = []
    while pieces and pieces[0].isdigit() and pieces[0].isascii():
        number = int(pieces.pop(0))
        if number == 0:
            return None, ""
        numbers.append(number)
    suffix = ".".join(pieces).upper()
    return numbers, suffix


def _top_level(raw: bytes, parsed: PartsIndex, suffix: str) -> bytes | None:
    if suffix == "":
        return raw
    if suffix == "HEADER":
        return raw[: parsed.header_end]
    if suffix == "TEXT":
        return raw[parsed.header_end :]
    return None


def _of_part(raw: bytes, part: PartInfo, suffix: str) -> bytes | None:
    if suffix == "":
        return raw[part.body_start : part.body_end]
    if suffix == "MIME":
        return raw[part.header_start : part.header_end]
    if part.message_header_end is None or part.message_body_end is None:
        return None
    if suffix == "HEADER":
        return raw[part.body_start : part.message_header_end]
    return raw[part.message_header_end : part.message_body_end]


def _resolve(parsed: PartsIndex, numbers: list[int]) -> PartInfo | None:
    by_section = {part.section: part for part in parsed.parts}
    prefix = ""
    current = _enter(by_section, prefix, parsed.content_type)
    for index, number in enumerate(numbers):
        more = index + 1 < len(numbers)
        if current is None:
            current = by_section.get(_join(prefix, number))
        elif _is_multipart(current.content_type):
            current = by_section.get(_join(current.section, number))
        elif number != 1 or (more and current.message_header_end is None):
            return None
        if current is None:
            return None
        if more and current.message_header_end is not None:
            prefix = current.section
            current = _enter(by_section, prefix, current.message_content_type or "")
    return current


def _enter(by_section: dict[str, PartInfo], prefix: str, content_type: str) -> PartInfo | None:
    """A message's top entity: None for a multipart (its parts go by number), else its PartInfo."""
    if _is_multipart(content_type):
        return None
    return by_section.get(_join(prefix, 1))


def _is_multipart(content_type: str) -> bool:
    return content_type.startswith("multipart/")


def _join(prefix: str, number: int) -> str:
    return f"{prefix}.{number}" if prefix else str(number)
