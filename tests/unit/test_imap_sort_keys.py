"""The base subject of RFC 5256 section 2.1, and the other keys SORT and THREAD order by."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.mail_session import MessageMeta
from mailservice.mime.header_fields import first_values
from mailservice.mime.sort_keys import (
    SORT_FIELDS,
    base_subject,
    display_name,
    first_mailbox,
    is_reply_or_forward,
    sent_date,
    subject_text,
)
from tests.support.cheap_strategies import pieces_and_text

PIECES = [
    "Re:",
    "RE :",
    "re[2]:",
    "Fwd:",
    "FW:",
    "fwd",
    "[list]",
    "[",
    "]",
    "(fwd)",
    "(FWD)",
    "[fwd:",
    " ",
    "\t",
    "x",
]
SUBJECTS = pieces_and_text(PIECES, 12, st.text(max_size=48), max_free=4)


@pytest.mark.parametrize(
    ("subject", "base", "reply"),
    [
        ("Hello", "Hello", False),
        ("Re: Hello", "Hello", True),
        ("RE:   Re: fwd: FW:Hello", "Hello", True),
        ("[list] Re: [2] Hello (fwd)", "Hello", True),
        ("Re[3]: Hello", "Hello", True),
        ("[Fwd: Re: Hello]", "Hello", True),
        ("[fwd: [fwd: Hello] (fwd)]", "Hello", True),
        ("[a] [b] Hello", "Hello", False),
        ("[a] [b]", "[b]", False),
        ("Re: [b]", "[b]", True),
        ("Re:", "", True),
        ("  Many \t  spaces\r\n folded  ", "Many spaces folded", False),
        ("Rest: of it", "Rest: of it", False),
        ("Refund: Hello", "Refund: Hello", False),
    ],
)
def test_base_subject_follows_rfc_5256(subject: str, base: str, reply: bool) -> None:
    assert base_subject(subject) == base
    assert is_reply_or_forward(subject) is reply


@given(SUBJECTS)
def test_base_subject_is_idempotent(subject: str) -> None:
    base = base_subject(subject)
    assert base_subject(base) == base
    assert not is_reply_or_forward(base)


@given(SUBJECTS)
def test_base_subject_has_no_outer_or_repeated_whitespace(subject: str) -> None:
    base = base_subject(subject)
    assert base == base.strip(" \t")
    assert "  " not in base and "\t" not in base


@given(SUBJECTS.map(lambda subject: subject.replace("[", "(").replace("]", ")")))
def test_reply_and_forward_markers_do_not_change_the_base_subject(subject: str) -> None:
    """For a base without brackets (one with brackets can join a marker into a "[...]" tag), and not
    empty: made so rather than filtered, which left too few inputs for Hypothesis's health check."""
    base = base_subject(f"{subject} tail")
    assert base
    for marked in (f"Re: {base}", f"Fwd: {base} (fwd)", f"[list] RE: {base}", f"[Fwd: {base}]"):
        assert base_subject(marked) == base
        assert is_reply_or_forward(marked)


HEADER = (
    b"From: =?utf-8?q?Z=C3=B6e?= <zoe@example.org>\r\nTo: team: a@example.com, b@example.com;\r\n"
    b"Cc: <Carl@Example.com>\r\nSubject: =?utf-8?q?Re:_Gr=C3=BC=C3=9Fe?=\r\n"
    b"Date: Tue, 3 Feb 2026 18:00:00 +0100\r\n\r\n"
)
META = MessageMeta(1, 1, frozenset(), datetime(2026, 1, 1, tzinfo=UTC), 100)


def test_keys_of_a_header() -> None:
    fields = first_values(HEADER + b"Subject: second\r\n", SORT_FIELDS)
    assert subject_text(fields["subject"]) == "Re: Grüße"
    assert subject_text(None) == ""
    assert sent_date(fields["date"], META) == datetime(2026, 2, 3, 17, 0, tzinfo=UTC)
    assert sent_date(None, META) == sent_date(b"not a date", META) == META.internal_date
    assert first_mailbox(fields["from"]) == "zoe"
    assert first_mailbox(fields["to"]) == "team"
    assert first_mailbox(fields.get("bcc")) == ""
    assert display_name(fields["from"]) == "Zöe"
    assert display_name(fields["cc"]) == "Carl@Example.com"
