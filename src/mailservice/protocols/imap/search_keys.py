"""The SEARCH key grammar (RFC 3501 section 6.4.4, plus MODSEQ from RFC 7162) as a small tree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.imap_dates import parse_date
from mailservice.protocols.imap.sequence_set import SequenceSet, parse_sequence_set

CHARSETS = ("UTF-8", "US-ASCII")
MAX_DEPTH = 100


@dataclass(frozen=True)
class AllKey:
    pass


@dataclass(frozen=True)
class FlagKey:
    """A stored flag set (or not); \\Recent is never set here."""

    flag: str
    present: bool


@dataclass(frozen=True)
class DateKey:
    """`sent` compares the Date header, else the internal date; `op` is BEFORE, ON or SINCE."""

    sent: bool
    op: str
    day: date


@dataclass(frozen=True)
class SizeKey:
    larger: bool
    size: int


@dataclass(frozen=True)
class HeaderKey:
    """A header field containing `text` (every message having the field, for an empty text)."""

    field: str
    text: str


@dataclass(frozen=True)
class TextKey:
    """BODY searches the body, TEXT the whole message."""

    whole: bool
    text: str


@dataclass(frozen=True)
class SequenceKey:
    uid: bool
    sequence_set: SequenceSet


@dataclass(frozen=True)
class ModSeqKey:
    modseq: int


@dataclass(frozen=True)
class NotKey:
    key: SearchKey


@dataclass(frozen=True)
class OrKey:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class AndKey:
    keys: tuple[SearchKey, ...]


SearchKey = (
    AllKey
    | FlagKey
    | DateKey
    | SizeKey
    | HeaderKey
    | TextKey
    | SequenceKey
    | ModSeqKey
    | NotKey
    | OrKey
    | AndKey
)

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
    "RECENT": ("\\Recent", True),
    "OLD": ("\\Recent", False),
}
_DATE_KEYS = {
    "BEFORE": (False, "BEFORE"),
    "ON": (False, "ON"),
    "SINCE": (False, "SINCE"),
    "SENTBEFORE": (True, "BEFORE"),
    "SENTON": (True, "ON"),
    "SENTSINCE": (True, "SINCE"),
}
_HEADER_KEYS = ("BCC", "CC", "FROM", "SUBJECT", "TO")


def parse_search(reader: CommandReader, charset: str) -> SearchKey:
    """One or more search keys up to the end of the command (they are ANDed)."""
    keys = [_key(reader, charset, 0)]
    while not reader.at_end():
        reader.space()
        keys.append(_key(reader, charset, 0))
    return keys[0] if len(keys) == 1 else AndKey(tuple(keys))


def _key(reader: CommandReader, charset: str, depth: int) -> SearchKey:
    if depth > MAX_DEPTH:
        raise reader.error("search keys nested too deeply")
    if reader.accept(b"("):
        keys = [_key(reader, charset, depth + 1)]
        while not reader.accept(b")"):
            reader.space()
            keys.append(_key(reader, charset, depth + 1))
        return keys[0] if len(keys) == 1 else AndKey(tuple(keys))
    if reader.peek(b"*") or reader.data[reader.position : reader.position + 1].isdigit():
        return SequenceKey(False, parse_sequence_set(reader.sequence_text()))
    return _named_key(reader, charset, depth, reader.word())


def _named_key(reader: CommandReader, charset: str, depth: int, name: str) -> SearchKey:
    if name == "ALL":
        return AllKey()
    if name in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[name]
        return FlagKey(flag, present)
    if name == "NEW":
        return AndKey((FlagKey("\\Recent", True), FlagKey("\\Seen", False)))
    if name in ("KEYWORD", "UNKEYWORD"):
        reader.space()
        return FlagKey(reader.atom(), name == "KEYWORD")
    if name in _DATE_KEYS:
        sent, op = _DATE_KEYS[name]
        reader.space()
        return DateKey(sent, op, parse_date(reader))
    if name in ("LARGER", "SMALLER"):
        reader.space()
        return SizeKey(name == "LARGER", reader.number())
    if name in _HEADER_KEYS:
        reader.space()
        return HeaderKey(name.lower(), _text(reader, charset))
    if name == "HEADER":
        reader.space()
        field = reader.astring().decode("ascii", "replace")
        reader.space()
        return HeaderKey(field.lower(), _text(reader, charset))
    if name in ("BODY", "TEXT"):
        reader.space()
        return TextKey(name == "TEXT", _text(reader, charset))
    if name == "UID":
        reader.space()
        return SequenceKey(True, parse_sequence_set(reader.sequence_text()))
    if name == "NOT":
        reader.space()
        return NotKey(_key(reader, charset, depth + 1))
    if name == "OR":
        reader.space()
        left = _key(reader, charset, depth + 1)
        reader.space()
        return OrKey(left, _key(reader, charset, depth + 1))
    if name == "MODSEQ":
        return _modseq(reader)
    raise reader.error(f"unknown search key {name}")


def _modseq(reader: CommandReader) -> ModSeqKey:
    reader.space()
    if reader.peek(b'"'):
        reader.string()  # entry name
        reader.space()
        reader.atom()  # entry type: priv, shared or all
        reader.space()
    return ModSeqKey(reader.mod_sequence())


def _text(reader: CommandReader, charset: str) -> str:
    value = reader.astring()
    try:
        return value.decode("ascii" if charset == "US-ASCII" else "utf-8")
    except UnicodeDecodeError:
        raise reader.error(f"search string is not valid {charset}") from None
