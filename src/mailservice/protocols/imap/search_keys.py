"""The SEARCH key grammar (RFC 3501 section 6.4.4, plus MODSEQ from RFC 7162, YOUNGER and OLDER from
RFC 5032, `$` from RFC 5182) as a small tree.

The keys that mean what the HTTP API's `q` means too (flags, the internal date, sizes, NOT, OR and
lists) are read into the shared criteria of `domain/search_criteria.py`, which defines what they mean;
the keys of IMAP alone are the `OwnCriterion`s below, tested in `search_match.py`.

Keys are read without recursion, so thousands of chained ORs (Dovecot takes 5,000) cost no stack; OR
chains and nested lists are flattened, double negations removed, and what is still nested more than
`MAX_DEPTH` levels deep is refused, since matching walks the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from mailservice.domain.search_criteria import (
    AllOf,
    AnyOf,
    Criterion,
    Everything,
    Flag,
    LargerThan,
    Not,
    OwnCriterion,
    Received,
    SmallerThan,
    all_of,
    any_of,
    negated,
)
from mailservice.protocols.imap.command_reader import CommandReader
from mailservice.protocols.imap.imap_dates import parse_date
from mailservice.protocols.imap.parse_error import RefusedArgument
from mailservice.protocols.imap.sequence_set import SequenceSet, parse_sequence_set

CHARSETS = ("UTF-8", "US-ASCII")
MAX_DEPTH = 100
"""Levels of the tree after flattening: alternating ORs and lists deeper than this get BAD."""


class UnknownCharset(RefusedArgument):
    def __init__(self, tag: str) -> None:
        super().__init__("unsupported charset", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.", tag)


@dataclass(frozen=True, slots=True)
class SentDateKey(OwnCriterion):
    """The Date header's day (else 1970-01-01) BEFORE, ON or SINCE `day` (the internal date's keys are
    the shared `Received`)."""

    op: str
    day: date


@dataclass(frozen=True, slots=True)
class HeaderKey(OwnCriterion):
    """A header field containing `text` (every message having the field, for an empty text)."""

    field: str
    text: str


@dataclass(frozen=True, slots=True)
class TextKey(OwnCriterion):
    """BODY searches the body, TEXT the whole message."""

    whole: bool
    text: str


@dataclass(frozen=True, slots=True)
class SequenceKey(OwnCriterion):
    uid: bool
    sequence_set: SequenceSet


@dataclass(frozen=True, slots=True)
class WithinKey(OwnCriterion):
    """WITHIN (RFC 5032): internal date less (YOUNGER) or at least (OLDER) `seconds` before now."""

    younger: bool
    seconds: int


@dataclass(frozen=True, slots=True)
class ModSeqKey(OwnCriterion):
    modseq: int


SearchKey = Criterion
"""A tree of the shared criteria (`domain/search_criteria.py`) with the keys above among its leaves."""

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
_RECEIVED_KEYS = ("BEFORE", "ON", "SINCE")
_SENT_KEYS = {"SENTBEFORE": "BEFORE", "SENTON": "ON", "SENTSINCE": "SINCE"}
_HEADER_KEYS = ("BCC", "CC", "FROM", "SUBJECT", "TO")


def read_charset(reader: CommandReader) -> str:
    """The charset SEARCH, SORT and THREAD name (upper case); NO [BADCHARSET] for one not in CHARSETS."""
    charset = reader.astring().decode("ascii", "replace").upper()
    if charset not in CHARSETS:
        raise UnknownCharset(reader.tag)
    return charset


def parse_search(reader: CommandReader, charset: str) -> SearchKey:
    """One or more search keys up to the end of the command (they are ANDed)."""
    keys = [_key(reader, charset)]
    while not reader.at_end():
        reader.space()
        keys.append(_key(reader, charset))
    return all_of(keys)


@dataclass
class _Open:
    """An operator whose operands are still being read: "OR" (two), "NOT" (one) or "(" (until ")")."""

    operator: str
    operands: list[SearchKey]


def _key(reader: CommandReader, charset: str) -> SearchKey:
    """One search key, its operators' operands read with a stack of open operators instead of recursion."""
    open_operators: list[_Open] = []
    while True:
        if reader.accept(b"("):
            open_operators.append(_Open("(", []))
            continue
        if (
            reader.peek(b"*")
            or reader.peek(b"$")
            or reader.data[reader.position : reader.position + 1].isdigit()
        ):
            key: SearchKey = SequenceKey(False, parse_sequence_set(reader.sequence_text()))
        else:
            name = reader.word()
            if name in ("OR", "NOT"):
                reader.space()
                open_operators.append(_Open(name, []))
                continue
            key = _named_key(reader, charset, name)
        finished = _close_operators(reader, open_operators, key)
        if finished is not None:
            return _checked_depth(reader, finished)


def _close_operators(reader: CommandReader, open_operators: list[_Open], key: SearchKey) -> SearchKey | None:
    """Give `key` to the innermost open operator and close every operator that is complete; the whole
    key when none is left open, else None (after the space before the next operand)."""
    while open_operators:
        innermost = open_operators[-1]
        innermost.operands.append(key)
        if innermost.operator == "NOT":
            key = negated(key)
        elif innermost.operator == "OR" and len(innermost.operands) == 2:
            key = any_of(innermost.operands)
        elif innermost.operator == "(" and reader.accept(b")"):
            key = all_of(innermost.operands)
        else:
            reader.space()
            return None
        open_operators.pop()
    return key


def _checked_depth(reader: CommandReader, key: SearchKey) -> SearchKey:
    level: list[tuple[SearchKey, int]] = [(key, 1)]
    while level:
        current, depth = level.pop()
        if depth > MAX_DEPTH:
            raise reader.error("search keys nested too deeply")
        if isinstance(current, Not):
            level.append((current.criterion, depth + 1))
        elif isinstance(current, AnyOf | AllOf):
            level.extend((inner, depth + 1) for inner in current.criteria)
    return key


def _named_key(reader: CommandReader, charset: str, name: str) -> SearchKey:
    if name == "ALL":
        return Everything()
    if name in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[name]
        return Flag(flag, present)
    if name == "NEW":
        return AllOf((Flag("\\Recent", True), Flag("\\Seen", False)))
    if name in ("KEYWORD", "UNKEYWORD"):
        reader.space()
        return Flag(reader.atom(), name == "KEYWORD")
    if name in _RECEIVED_KEYS:
        reader.space()
        return received(name, parse_date(reader))
    if name in _SENT_KEYS:
        reader.space()
        return SentDateKey(_SENT_KEYS[name], parse_date(reader))
    if name == "LARGER":
        reader.space()
        return LargerThan(reader.size_number())
    if name == "SMALLER":
        reader.space()
        return SmallerThan(reader.size_number())
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
    if name == "MODSEQ":
        return _modseq(reader)
    if name in ("YOUNGER", "OLDER"):
        reader.space()
        return _within(reader, name == "YOUNGER")
    raise reader.error(f"unknown search key {name}")


def received(op: str, day: date) -> Received:
    """BEFORE, ON or SINCE `day` on the internal date: the UTC day, as the store keeps internal dates."""
    start = datetime.combine(day, time(), UTC)
    if op == "BEFORE":
        return Received(before=start)
    if op == "ON":
        return Received(since=start, before=None if day == date.max else start + timedelta(days=1))
    return Received(since=start)


def _within(reader: CommandReader, younger: bool) -> WithinKey:
    seconds = reader.number()
    if seconds == 0:
        raise reader.error("Invalid search interval parameter")
    return WithinKey(younger, seconds)


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
