"""Sequence sets: parsing, formatting and resolution against sequence numbers and uids."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.protocols.imap.parse_error import ParseError
from mailservice.protocols.imap.sequence_set import SequenceSet, parse_sequence_set, uid_set_text

bounds = st.one_of(st.none(), st.integers(min_value=1, max_value=2**32 - 1))
ranges = st.tuples(bounds, bounds)
sets = st.lists(ranges, min_size=1, max_size=8).map(lambda found: SequenceSet(tuple(found)))
small_bounds = st.one_of(st.none(), st.integers(min_value=1, max_value=300))
small_sets = st.lists(st.tuples(small_bounds, small_bounds), min_size=1, max_size=8).map(
    lambda found: SequenceSet(tuple(found))
)


@given(sets)
def test_formatting_then_parsing_gives_the_same_set(sequence_set: SequenceSet) -> None:
    assert parse_sequence_set(str(sequence_set).encode()) == _canonical(sequence_set)


def _canonical(sequence_set: SequenceSet) -> SequenceSet:
    return SequenceSet(tuple((low, high) for low, high in sequence_set.ranges))


@given(st.binary(max_size=40))
def test_any_bytes_parse_or_raise_a_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_sequence_set(data)


def _naive(sequence_set: SequenceSet, largest: int) -> set[int]:
    chosen: set[int] = set()
    for low, high in sequence_set.ranges:
        first = largest if low is None else low
        last = largest if high is None else high
        chosen.update(range(min(first, last), max(first, last) + 1))
    return chosen


@given(small_sets, st.integers(min_value=0, max_value=60))
def test_sequence_numbers_are_the_numbers_named_within_the_folder(
    sequence_set: SequenceSet, count: int
) -> None:
    expected = sorted(number for number in _naive(sequence_set, count) if 1 <= number <= count)
    assert sequence_set.sequence_numbers(count) == (expected if count else [])


@given(small_sets, st.lists(st.integers(min_value=1, max_value=200), unique=True).map(sorted))
def test_uids_are_the_existing_uids_named(sequence_set: SequenceSet, uids: list[int]) -> None:
    found = sequence_set.uids(uids)
    expected = sorted(set(uids) & _naive(sequence_set, uids[-1])) if uids else []
    assert found == expected


def test_a_range_may_be_written_backwards_and_star_is_the_largest() -> None:
    assert parse_sequence_set(b"5:2").sequence_numbers(10) == [2, 3, 4, 5]
    assert parse_sequence_set(b"*").sequence_numbers(10) == [10]
    assert parse_sequence_set(b"8:*").sequence_numbers(3) == [3]


def test_a_uid_range_beyond_the_last_uid_still_names_the_last_message() -> None:
    assert parse_sequence_set(b"50:*").uids([3, 7, 9]) == [9]


@pytest.mark.parametrize("text", [b"", b"0", b"1:", b"a", b"1,,2", b"01", b"4294967296", b"1:2:3"])
def test_invalid_sets_are_refused(text: bytes) -> None:
    with pytest.raises(ParseError):
        parse_sequence_set(text)


def test_uid_set_text_collapses_runs() -> None:
    assert uid_set_text([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_set_text([]) == ""
