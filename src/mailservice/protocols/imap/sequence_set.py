"""Sequence sets (RFC 3501 `sequence-set`): "1:4,7,9:*", ranges in either order, `*` for the largest.

A set is kept as the ranges the client wrote; `*` is None. Resolution against a folder gives sequence
numbers (1..count) or uids (members of a sorted uid list). `$` (SEARCHRES, RFC 5182) is the set of
messages the last `SEARCH RETURN (SAVE ...)` found: a set with `saved` and no ranges, which only the
selected folder's view can resolve.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from mailservice.protocols.imap.parse_error import ParseError

Bound = int | None  # None is "*"
_NUMBER = re.compile(rb"[1-9][0-9]{0,9}\Z")
_MAX_NUMBER = 2**32 - 1


@dataclass(frozen=True)
class SequenceSet:
    ranges: tuple[tuple[Bound, Bound], ...]
    saved: bool = False

    def __str__(self) -> str:
        if self.saved:
            return "$"
        return ",".join(_format_range(low, high) for low, high in self.ranges)

    def sequence_numbers(self, count: int) -> list[int]:
        """The message sequence numbers in 1..count, ascending, without duplicates."""
        if count == 0:
            return []
        if len(self.ranges) == 1:
            start, end = sorted((_bound(self.ranges[0][0], count), _bound(self.ranges[0][1], count)))
            return list(range(max(start, 1), min(end, count) + 1))
        chosen: set[int] = set()
        for low, high in self.ranges:
            start, end = sorted((_bound(low, count), _bound(high, count)))
            chosen.update(range(max(start, 1), min(end, count) + 1))
        return sorted(chosen)

    def uids(self, uids: Sequence[int]) -> list[int]:
        """The members of `uids` (ascending) that the set names; `*` is the largest uid."""
        if not uids:
            return []
        largest = uids[-1]
        if len(self.ranges) == 1:
            return list(uids[slice(*self._slice(self.ranges[0], uids, largest))])
        chosen: set[int] = set()
        for bounds in self.ranges:
            chosen.update(uids[slice(*self._slice(bounds, uids, largest))])
        return sorted(chosen)

    @staticmethod
    def _slice(bounds: tuple[Bound, Bound], uids: Sequence[int], largest: int) -> tuple[int, int]:
        start, end = sorted((_bound(bounds[0], largest), _bound(bounds[1], largest)))
        return bisect_left(uids, start), bisect_right(uids, end)

    def largest_number(self) -> int | None:
        """The largest explicit number, None when the set has none (only `*`)."""
        numbers = [value for bounds in self.ranges for value in bounds if value is not None]
        return max(numbers) if numbers else None


def parse_sequence_set(text: bytes) -> SequenceSet:
    if not text:
        raise ParseError("empty sequence set")
    if text == b"$":
        return SAVED
    # The number of ranges is bounded by the command line's length limit, as in Dovecot.
    return SequenceSet(tuple(_parse_range(piece) for piece in text.split(b",")))


SAVED = SequenceSet((), saved=True)


def _parse_range(piece: bytes) -> tuple[Bound, Bound]:
    low, colon, high = piece.partition(b":")
    first = _parse_bound(low)
    return (first, _parse_bound(high)) if colon else (first, first)


def _parse_bound(text: bytes) -> Bound:
    if text == b"*":
        return None
    if _NUMBER.match(text) is None:
        raise ParseError(f"invalid sequence number {text[:20].decode('ascii', 'replace')!r}")
    value = int(text)
    if value > _MAX_NUMBER:
        raise ParseError("sequence number out of range")
    return value


def _bound(value: Bound, largest: int) -> int:
    return largest if value is None else value


def _format_range(low: Bound, high: Bound) -> str:
    first = "*" if low is None else str(low)
    if low == high:
        return first
    return f"{first}:{'*' if high is None else high}"


def uid_set_text(uids: Sequence[int]) -> str:
    """A compact set for ascending-or-not uids, runs collapsed ("1:3,7"), in the given order."""
    pieces: list[str] = []
    index = 0
    while index < len(uids):
        end = index
        while end + 1 < len(uids) and uids[end + 1] == uids[end] + 1:
            end += 1
        pieces.append(str(uids[index]) if end == index else f"{uids[index]}:{uids[end]}")
        index = end + 1
    return ",".join(pieces)
