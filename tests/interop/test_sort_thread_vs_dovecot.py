"""SORT, ESORT and THREAD answer like Dovecot 2.3 for the same messages.

INBOX holds the interop corpus (encoded words, groups, missing headers, bare LF...); `Threads` holds
THREADS below: replies, forwards and list tags in subjects, References chains with missing parents,
In-Reply-To only, duplicate and missing Message-IDs, a reference loop, equal and missing dates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from bench.imap_wire import ImapWire

from tests.interop.comparison import Pair
from tests.interop.corpus import CORPUS
from tests.support.dovecot import ImapAccount, StoredMessage, load_messages

pytestmark = pytest.mark.slow

_ARRIVAL = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _message(
    number: int, subject: str, date: str | None, headers: str = "", sender: str = "a@x.test"
) -> StoredMessage:
    lines = [f"From: {sender}", f"To: list-{number % 3}@lists.test", f"Subject: {subject}"]
    if date is not None:
        lines.append(f"Date: {date}")
    if headers:
        lines.append(headers)
    raw = ("\r\n".join(lines) + f"\r\n\r\nbody {number}\r\n" + "x" * (number * 7 % 50)).encode()
    return StoredMessage(raw, _ARRIVAL + timedelta(minutes=(number * 37) % 11))


def _day(day: int, hour: int = 9) -> str:
    return f"Mon, {day} Mar 2026 {hour:02d}:00:00 +0000"


THREADS = [
    _message(1, "Meeting", _day(2), "Message-ID: <m1@x.test>", "Bob <bob@x.test>"),
    _message(2, "Re: Meeting", _day(3), "Message-ID: <m2@x.test>\r\nReferences: <m1@x.test>", "carol@x.test"),
    _message(3, "Re: Re: Meeting", _day(4), "Message-ID: <m3@x.test>\r\nReferences: <m1@x.test> <m2@x.test>"),
    _message(
        4, "RE: Meeting", _day(3, 12), "Message-ID: <m4@x.test>\r\nIn-Reply-To: <m1@x.test>", "Al <z@x.test>"
    ),
    _message(5, "[list] Budget", _day(1), "Message-ID: <b1@x.test>\r\nReferences: <gone@x.test>"),
    _message(6, "Fwd: [list] Budget (fwd)", _day(5), "Message-ID: <b2@x.test>\r\nReferences: <gone@x.test>"),
    _message(7, "Budget", _day(6), "Message-ID: <b3@x.test>"),
    _message(8, "[Fwd: Budget]", _day(6), "Message-ID: <b4@x.test>"),
    _message(9, "Lunch?", None, "Message-ID: <l1@x.test>", '"Zed" <zed@x.test>'),
    _message(10, "re: lunch?", _day(2), "Message-ID: <l2@x.test>\r\nReferences: <l1@x.test>"),
    _message(11, "Loop A", _day(7), "Message-ID: <la@x.test>\r\nReferences: <lb@x.test>"),
    _message(12, "Loop B", _day(8), "Message-ID: <lb@x.test>\r\nReferences: <la@x.test>"),
    _message(13, "Duplicate id", _day(9), "Message-ID: <m1@x.test>"),
    _message(14, "No id at all", _day(9)),
    _message(15, "No id at all", _day(9)),
    _message(16, "Re: Orphans", _day(10), "References: <p1@x.test> <p2@x.test>"),
    _message(17, "Re: Orphans", _day(11), "References: <p1@x.test> <p3@x.test>"),
    _message(18, "", _day(12), "Message-ID: <e1@x.test>"),
    _message(19, "Re:", _day(12), "Message-ID: <e2@x.test>\r\nIn-Reply-To: <e1@x.test> <m1@x.test>"),
    _message(
        20,
        "=?utf-8?q?R=C3=A9union?=",
        _day(13),
        "Message-ID: <r1@x.test>",
        "=?utf-8?q?=C3=89lise?= <e@x.test>",
    ),
    _message(
        21, "Re: =?utf-8?q?R=C3=A9union?=", _day(13), "Message-ID: <r2@x.test>\r\nReferences: <r1@x.test>"
    ),
    _message(22, "Budget", "not a date", "Message-ID: <b5@x.test>\r\nReferences: <b1@x.test>"),
]


@pytest.fixture(scope="module")
def pair(dovecot_and_ours: tuple[ImapAccount, ImapAccount]) -> Iterator[Pair]:
    for account in dovecot_and_ours:
        load_messages(account, CORPUS)
        with account.connect() as wire:
            wire.command("CREATE Threads")
        load_messages(account, THREADS, "Threads")
    reference, ours = (account.connect() for account in dovecot_and_ours)
    with reference, ours:
        yield Pair(reference, ours)


FOLDERS = ["INBOX", "Threads"]
SORTS = [
    "SORT (ARRIVAL) UTF-8 ALL",
    "SORT (SIZE) UTF-8 ALL",
    "SORT (REVERSE SIZE) UTF-8 ALL",
    "SORT (DATE) UTF-8 ALL",
    "SORT (REVERSE DATE) US-ASCII ALL",
    "SORT (SUBJECT) UTF-8 ALL",
    "SORT (REVERSE SUBJECT) UTF-8 ALL",
    "SORT (FROM) UTF-8 ALL",
    "SORT (TO) UTF-8 ALL",
    "SORT (CC) UTF-8 ALL",
    "SORT (DISPLAYFROM) UTF-8 ALL",
    "SORT (DISPLAYTO) UTF-8 ALL",
    "SORT (SUBJECT DATE) UTF-8 ALL",
    "SORT (REVERSE ARRIVAL SIZE) UTF-8 ALL",
    "SORT (CC REVERSE FROM SIZE) UTF-8 ALL",
    "SORT (SUBJECT) UTF-8 SUBJECT meeting",
    "SORT (DATE) UTF-8 OR SEEN FLAGGED",
    "SORT (SIZE) US-ASCII 3:8",
    "UID SORT (REVERSE SUBJECT) UTF-8 ALL",
    "UID SORT (DATE) UTF-8 UID 2:10",
    "SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL",
    "SORT RETURN () (SUBJECT) UTF-8 ALL",
    "SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL",
    "SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL",
    "UID SORT RETURN (COUNT ALL MIN) (SIZE) UTF-8 ALL",
    "SORT RETURN (MIN MAX COUNT ALL) (SIZE) UTF-8 SUBJECT nothing-matches",
    "SORT (SUBJECT) UTF-8 MODSEQ 1",
    "SORT RETURN (COUNT) (SUBJECT) UTF-8 MODSEQ 1",
    "SORT (SUBJECT) UTF-8 MODSEQ 100000",
    "THREAD ORDEREDSUBJECT UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
    "THREAD REFERENCES US-ASCII NOT SUBJECT budget",
    "UID THREAD REFERENCES UTF-8 ALL",
    "UID THREAD ORDEREDSUBJECT UTF-8 2:*",
    "THREAD REFERENCES UTF-8 SUBJECT nothing-matches",
]


def untagged(wire: ImapWire, command: str) -> tuple[list[str], str]:
    """The answer's untagged lines (an ESEARCH tag and modseqs, each server's own, made neutral) and
    its tagged status."""
    answer = wire.command(command, check=False)
    lines = [re.sub(r'\(TAG "[^"]*"\)', '(TAG "t")', line.decode().rstrip()) for line in answer.lines]
    lines = [
        re.sub(r"MODSEQ \d+", "MODSEQ n", line)
        for line in lines
        if not line.startswith("* OK [HIGHESTMODSEQ")
    ]
    return lines, answer.tagged.decode().split()[1]


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("command", SORTS)
def test_sort_and_thread_answer_like_dovecot(pair: Pair, folder: str, command: str) -> None:
    for wire in (pair.reference, pair.ours):
        wire.command(f"EXAMINE {folder}")
    reference, ours = untagged(pair.reference, command), untagged(pair.ours, command)
    assert reference[1] == "OK"
    assert ours == reference


@pytest.mark.parametrize(
    "command",
    [
        "SORT (SUBJECT) X-UNKNOWN ALL",
        "THREAD REFERENCES X-UNKNOWN ALL",
        "SORT (SUBJECT REVERSE) UTF-8 ALL",
        "SORT () UTF-8 ALL",
        "SORT (NAME) UTF-8 ALL",
        "SORT (SUBJECT) UTF-8",
        "SORT RETURN (PARTIAL) (SUBJECT) UTF-8 ALL",
        "THREAD SIDEWAYS UTF-8 ALL",
        "UID THREAD",
    ],
)
def test_bad_sort_and_thread_commands_are_refused_like_dovecot(pair: Pair, command: str) -> None:
    for wire in (pair.reference, pair.ours):
        wire.command("EXAMINE Threads")
    reference, ours = (untagged(wire, command)[1] for wire in (pair.reference, pair.ours))
    assert ours == reference != "OK"
