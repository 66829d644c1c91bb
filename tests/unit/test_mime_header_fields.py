"""HEADER.FIELDS selection and header field values."""

from __future__ import annotations

from mailservice.mime.header_fields import field_values, select_fields

HEADER = (
    b"From: a@example.org\r\n"
    b"Subject: first line\r\n"
    b"\tcontinued\r\n"
    b"X-Empty:\r\n"
    b"subject: second\n"
    b"\r\n"
    b"Body: not a header\r\n"
)


def test_selected_fields_keep_their_continuation_lines_and_end_with_a_blank_line() -> None:
    assert select_fields(HEADER, ["SUBJECT"]) == (
        b"Subject: first line\r\n\tcontinued\r\nsubject: second\n\r\n"  # line ends as stored
    )


def test_excluded_fields_leave_the_others() -> None:
    assert select_fields(HEADER, ["subject", "x-empty"], exclude=True) == b"From: a@example.org\r\n\r\n"


def test_missing_fields_give_only_the_blank_line() -> None:
    assert select_fields(HEADER, ["Body"]) == b"\r\n"


def test_field_values_of_every_occurrence() -> None:
    assert field_values(HEADER, "Subject") == [b"first line\r\n\tcontinued", b"second"]
    assert field_values(HEADER, "x-empty") == [b""]
