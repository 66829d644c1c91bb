"""Header values for people: RFC 2047 encoded words, address lists and dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from .addresses import MAILBOX, RawAddress
from .charset import decode_text
from .parsed import Address
from .transfer import b64decode_lenient, qp_decode

_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\r\n]*)\?=")
_FOLD = re.compile(rb"\r?\n")
_SPACE_ONLY = re.compile(rb"[ \t]*")


def unfold(value: bytes) -> bytes:
    return _FOLD.sub(b"", value) if b"\n" in value else value


def decode_words(value: bytes) -> str:
    """Unfold a header value and decode its RFC 2047 encoded words; other bytes as UTF-8 or Latin-1.

    Whitespace between two adjacent encoded words is dropped, and adjacent words in the same charset
    are decoded together so that a character split across them survives.
    """
    value = unfold(value)
    if b"=?" not in value:
        return decode_text(value, None)
    pieces: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        adjacent = bool(pending) and _SPACE_ONLY.fullmatch(between) is not None
        charset = match.group(1).split(b"*", 1)[0].decode("ascii", "replace").lower()
        if pending and (not adjacent or charset != pending_charset):
            pieces.append(decode_text(b"".join(pending), pending_charset))
            pending = []
        if not adjacent:
            pieces.append(decode_text(between, None))
        pending.append(_decode_word(match.group(2), match.group(3)))
        pending_charset = charset
        position = match.end()
    if pending:
        pieces.append(decode_text(b"".join(pending), pending_charset))
    pieces.append(decode_text(value[position:], None))
    return "".join(pieces)


def _decode_word(encoding: bytes, text: bytes) -> bytes:
    if encoding in (b"b", b"B"):
        return b64decode_lenient(text)
    return qp_decode(text, header=True)


def decode_header_text(value: bytes | None) -> str | None:
    """A whole unstructured header (Subject...) for people, trimmed."""
    return None if value is None else decode_words(value).strip()


def to_addresses(parsed: list[RawAddress]) -> tuple[Address, ...]:
    """The mailboxes of a parsed address list, group syntax flattened, names decoded."""
    found: list[Address] = []
    for raw in parsed:
        if raw.kind != MAILBOX or (raw.mailbox is None and raw.domain is None and raw.name is None):
            continue
        found.append(
            Address(
                name=None if raw.name is None else decode_words(raw.name).strip() or None,
                mailbox=None if raw.mailbox is None else decode_text(raw.mailbox, None),
                host=decode_text(raw.domain, None) if raw.domain else None,
            )
        )
    return tuple(found)


_MONTHS = {
    name: number for number, name in enumerate(b"jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)
}
_COMMON_DATE = re.compile(
    rb"\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+"
    rb"(\d\d):(\d\d)(?::(\d\d))?\s+([+-])(\d\d)(\d\d)"
    rb"(?:\s*\([^()]*\))?\s*\Z"
)


def _common_date(value: bytes) -> datetime | None:
    """The usual `Tue, 1 Jul 2003 10:52:37 +0200` without the general parser."""
    match = _COMMON_DATE.match(value)
    month = None if match is None else _MONTHS.get(match.group(2).lower())
    if match is None or month is None:
        return None
    day, _, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
    try:
        return datetime(
            int(year),
            month,
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            tzinfo=timezone(-offset if sign == b"-" else offset),
        )
    except ValueError:
        return None


def parse_date(value: bytes | None) -> datetime | None:
    """An aware datetime for a Date header (UTC when it gives no zone), None when unreadable."""
    if value is None:
        return None
    if (common := _common_date(value)) is not None:
        return common
    try:
        parsed = parsedate_to_datetime(decode_text(unfold(value), None).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
