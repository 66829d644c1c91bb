"""Parsing SORT, ESORT and THREAD, SELECT's QRESYNC parameter and FETCH's VANISHED modifier."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.search_criteria import Everything, Flag
from mailservice.protocols.imap.commands import FetchArgs, Select, parse_command
from mailservice.protocols.imap.parse_error import ParseError
from mailservice.protocols.imap.qresync import QresyncParams
from mailservice.protocols.imap.search_keys import UnknownCharset
from mailservice.protocols.imap.sequence_set import SequenceSet
from mailservice.protocols.imap.sort_args import SORT_CRITERIA, SortArgs, SortCriterion, ThreadArgs

CRITERIA = st.lists(st.tuples(st.booleans(), st.sampled_from(sorted(SORT_CRITERIA))), min_size=1, max_size=6)


@given(CRITERIA, st.sampled_from(["UTF-8", "us-ascii"]), st.booleans())
def test_sort_criteria_are_read_in_order(criteria: list[tuple[bool, str]], charset: str, uid: bool) -> None:
    text = " ".join(f"REVERSE {name}" if reverse else name.lower() for reverse, name in criteria)
    command = parse_command(f"t {'UID ' if uid else ''}SORT ({text}) {charset} SEEN".encode())
    assert command.name == "SORT" and command.uid is uid
    assert command.args == SortArgs(
        tuple(SortCriterion(name, reverse) for reverse, name in criteria), Flag("\\Seen", True)
    )


@given(st.binary(max_size=60))
def test_any_sort_or_thread_line_parses_or_is_a_parse_error(tail: bytes) -> None:
    for name in (b"SORT ", b"UID SORT ", b"THREAD ", b"SORT RETURN ("):
        with contextlib.suppress(ParseError):
            parse_command(b"t " + name + tail)


@pytest.mark.parametrize(
    ("line", "returns"),
    [
        (b"t SORT RETURN (MIN MAX) (DATE) UTF-8 ALL", frozenset({"MIN", "MAX"})),
        (b"t SORT RETURN () (DATE) UTF-8 ALL", frozenset({"ALL"})),
        (b"t UID SORT RETURN (count all) (DATE) UTF-8 ALL", frozenset({"COUNT", "ALL"})),
        (b"t SORT RETURN (SAVE MIN) (DATE) UTF-8 ALL", frozenset({"SAVE", "MIN"})),
    ],
)
def test_esort_return_options(line: bytes, returns: frozenset[str]) -> None:
    args = parse_command(line).args
    assert isinstance(args, SortArgs) and args.returns == returns and args.key == Everything()


@pytest.mark.parametrize(
    "line",
    [
        b"t SORT () UTF-8 ALL",
        b"t SORT (SUBJECT REVERSE) UTF-8 ALL",
        b"t SORT (NAME) UTF-8 ALL",
        b"t SORT (SUBJECT) UTF-8",
        b"t SORT SUBJECT UTF-8 ALL",
        b"t SORT RETURN (PARTIAL 1:5) (SUBJECT) UTF-8 ALL",
        b"t THREAD SIDEWAYS UTF-8 ALL",
        b"t THREAD REFERENCES",
    ],
)
def test_malformed_sort_and_thread_are_parse_errors(line: bytes) -> None:
    with pytest.raises(ParseError) as raised:
        parse_command(line)
    assert raised.value.tag == "t"


@pytest.mark.parametrize("line", [b"t SORT (DATE) KOI8-R ALL", b"t THREAD REFERENCES X-NONE ALL"])
def test_unknown_charsets_are_refused(line: bytes) -> None:
    with pytest.raises(UnknownCharset):
        parse_command(line)


def test_thread_arguments() -> None:
    command = parse_command(b"t UID THREAD references UTF-8 UNSEEN")
    assert command.uid and command.args == ThreadArgs("REFERENCES", Flag("\\Seen", False))


def test_select_qresync_parameter() -> None:
    args = parse_command(b"t SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))").args
    assert isinstance(args, Select) and args.qresync is not None
    assert (args.qresync.uidvalidity, args.qresync.modseq) == (67890007, 20050715194045000)
    assert args.qresync.known_uids == SequenceSet(((41, 41), (43, 211), (214, 541)))
    with_match = parse_command(b"t EXAMINE INBOX (CONDSTORE QRESYNC (1 2 1:9 (1,5 1,9)))").args
    assert isinstance(with_match, Select) and with_match.condstore and with_match.qresync is not None
    assert parse_command(b"t SELECT INBOX (QRESYNC (1 2))").args == Select(
        "INBOX", False, QresyncParams(1, 2)
    )


@pytest.mark.parametrize(
    "line",
    [
        b"t SELECT INBOX (QRESYNC (1 0))",
        b"t SELECT INBOX (QRESYNC (0 5))",
        b"t SELECT INBOX (QRESYNC (1 5 1:*))",
        b"t SELECT INBOX (QRESYNC (1 5 1:9 (1:* 1:9)))",
        b"t SELECT INBOX (QRESYNC (1))",
        b"t SELECT INBOX (QRESYNC)",
        b"t FETCH 1:* (FLAGS) (VANISHED)",
    ],
)
def test_malformed_qresync_arguments_are_parse_errors(line: bytes) -> None:
    with pytest.raises(ParseError):
        parse_command(line)


def test_fetch_vanished_modifier() -> None:
    args = parse_command(b"t UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12 VANISHED)").args
    assert isinstance(args, FetchArgs) and args.request.vanished and args.request.changed_since == 12
