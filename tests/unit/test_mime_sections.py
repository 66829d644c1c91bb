"""BODY[section] contents; expected bytes are what Dovecot 2.3.19 answered (None where it sent "")."""

from __future__ import annotations

import pytest

from mailservice.mime import parse_mime, section_bytes


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


SIMPLE = crlf("From: John <j@x.org>\nSubject: hi\n\nhello\n")
NESTED = crlf(
    "From: a@b.c\nSubject: fwd\nContent-Type: multipart/mixed; boundary=outer\n\n"
    "--outer\nContent-Type: text/plain\n\nsee fwd\n"
    "--outer\nContent-Type: message/rfc822\n\n"
    "From: inner@b.c\nSubject: inner\nContent-Type: multipart/alternative; boundary=inner\n\n"
    "--inner\nContent-Type: text/plain\n\ninner"
    " text\n--inner\nContent-Type: text/html\n\n<b>x</b>\n--inner--\n"
    "\n--outer\nContent-Type: message/rfc822\n\nFrom: s@b.c\nSubject: single\n\nsingle body\n"
    "--outer--\n"
)
INNER = (
    b"From: inner@b.c\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
    b"--inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--inner\r\nContent-Type: text/html\r\n\r\n"
    b"<b>x</b>\r\n--inner--\r\n"
)
NESTED_MULTIPART = crlf(
    "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/alternative; boundary=b\n\n"
    "--b\nContent-Type: text/plain\n\np\n--b\nContent-Type: text/html\n\nh\n--b--\n\n"
    "--a\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0=\n--a--\n"
)
TOP_RFC822 = crlf("From: a@b.c\nContent-Type: message/rfc822\n\nFrom: in@b.c\nSubject: in\n\nhello\n")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("", SIMPLE),
        ("HEADER", b"From: John <j@x.org>\r\nSubject: hi\r\n\r\n"),
        ("TEXT", b"hello\r\n"),
        ("1", b"hello\r\n"),
        ("1.MIME", b"From: John <j@x.org>\r\nSubject: hi\r\n\r\n"),
        ("1.1", None),
        ("2", None),
        ("1.HEADER", None),
        ("1.TEXT", None),
    ],
)
def test_sections_of_a_single_part_message(section: str, expected: bytes | None) -> None:
    assert section_bytes(SIMPLE, parse_mime(SIMPLE), section) == expected


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("HEADER", b"From: a@b.c\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"),
        ("1", b"see fwd"),
        ("1.MIME", b"Content-Type: text/plain\r\n\r\n"),
        ("1.1", b"see fwd"),
        ("1.1.MIME", b"Content-Type: text/plain\r\n\r\n"),
        ("1.2", None),
        ("1.HEADER", None),
        ("2", INNER),
        ("2.MIME", b"Content-Type: message/rfc822\r\n\r\n"),
        ("2.HEADER", INNER[: INNER.index(b"\r\n\r\n") + 4]),
        ("2.TEXT", INNER[INNER.index(b"\r\n\r\n") + 4 :]),
        ("2.1", b"inner text"),
        ("2.1.MIME", b"Content-Type: text/plain\r\n\r\n"),
        ("2.1.1", b"inner text"),
        ("2.1.HEADER", None),
        ("2.2", b"<b>x</b>"),
        ("3", b"From: s@b.c\r\nSubject: single\r\n\r\nsingle body"),
        ("3.HEADER", b"From: s@b.c\r\nSubject: single\r\n\r\n"),
        ("3.TEXT", b"single body"),
        ("3.1", b"single body"),
        ("3.1.MIME", b"From: s@b.c\r\nSubject: single\r\n\r\n"),
        ("3.1.TEXT", None),
        ("3.2", None),
        ("4", None),
    ],
)
def test_sections_of_a_message_with_enclosed_messages(section: str, expected: bytes | None) -> None:
    assert section_bytes(NESTED, parse_mime(NESTED), section) == expected


def test_nested_multipart_section_is_its_whole_body() -> None:
    parsed = parse_mime(NESTED_MULTIPART)
    assert section_bytes(NESTED_MULTIPART, parsed, "1") == (
        b"--b\r\nContent-Type: text/plain\r\n\r\np\r\n--b\r\nContent-Type: text/html\r\n\r\nh\r\n--b--\r\n"
    )
    assert section_bytes(NESTED_MULTIPART, parsed, "1.MIME") == (
        b"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
    )
    assert section_bytes(NESTED_MULTIPART, parsed, "1.2") == b"h"
    assert section_bytes(NESTED_MULTIPART, parsed, "2.1") == b"iVBORw0="


def test_top_level_message_rfc822_is_entered_by_its_part_number() -> None:
    parsed = parse_mime(TOP_RFC822)
    assert section_bytes(TOP_RFC822, parsed, "1") == b"From: in@b.c\r\nSubject: in\r\n\r\nhello\r\n"
    assert (
        section_bytes(TOP_RFC822, parsed, "1.MIME") == b"From: a@b.c\r\nContent-Type: message/rfc822\r\n\r\n"
    )
    assert section_bytes(TOP_RFC822, parsed, "1.HEADER") == b"From: in@b.c\r\nSubject: in\r\n\r\n"
    assert section_bytes(TOP_RFC822, parsed, "1.TEXT") == b"hello\r\n"
    assert section_bytes(TOP_RFC822, parsed, "1.1") == b"hello\r\n"


def test_parts_emptied_by_adjacent_boundaries() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=q\n\n--q\n--q\n\n--q\nX: y\n\nz\n--q--\n")
    parsed = parse_mime(raw)
    assert [section_bytes(raw, parsed, f"{n}.MIME") for n in (1, 2, 3)] == [b"", b"", b"X: y\r\n\r\n"]
    assert section_bytes(raw, parsed, "3") == b"z"


def test_section_suffixes_are_case_insensitive_and_bad_specs_give_none() -> None:
    parsed = parse_mime(NESTED)
    assert section_bytes(NESTED, parsed, "2.header") == section_bytes(NESTED, parsed, "2.HEADER")
    for bad in ("0", "1.0", "x", "1.FOO", "MIME", "1..2", "HEADER.FIELDS (From)"):
        assert section_bytes(NESTED, parsed, bad) is None


def test_sections_are_the_stored_bytes_nul_included() -> None:
    raw = b"Subject: a\x00b\r\n\r\nx\x00y\r\n"
    parsed = parse_mime(raw)
    assert section_bytes(raw, parsed, "HEADER") == b"Subject: a\x00b\r\n\r\n"  # BODY sends 0x80, BINARY NUL
    assert section_bytes(raw, parsed, "1") == b"x\x00y\r\n"
