"""Decoded header values: RFC 2047 words, addresses, dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mailservice.mime import Address, parse_mime
from mailservice.mime.headers import decode_words, parse_date


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def test_encoded_words_are_decoded_and_whitespace_between_them_dropped() -> None:
    value = (
        b"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
        b"    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="
    )
    assert decode_words(value) == "If you can read this you understand the example."


def test_q_encoding_turns_underscores_into_spaces_and_keeps_plain_text_around() -> None:
    assert decode_words(b"Re: =?utf-8?q?caf=C3=A9_cr=C3=A8me?= and more") == "Re: café crème and more"


def test_a_character_split_across_two_words_survives() -> None:
    assert decode_words(b"=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=") == "éé"
    assert decode_words(b"=?utf-8?q?=C3?= =?utf-8?q?=A9?=") == "é"


def test_unknown_charset_and_raw_eight_bit_text_do_not_fail() -> None:
    assert decode_words(b"=?x-nonsense?q?abc?=") == "abc"
    assert decode_words("naïve".encode()) == "naïve"
    assert decode_words(b"na\xefve") == "naïve"


def test_subject_is_decoded_and_trimmed() -> None:
    parsed = parse_mime(crlf("Subject:  =?utf-8?B?SMOpbGxv?= world \n\nx\n"))
    assert parsed.subject == "Héllo world"


def test_addresses_are_flattened_with_decoded_names() -> None:
    parsed = parse_mime(
        crlf(
            'From: "Doe, John" <john@example.com>\n'
            "To: Group: a@b.c, =?utf-8?q?J=C3=B6rg?= <j@d.e>;, plain@x.y\n"
            "Cc: broken\n"
            "Reply-To: r@example.com (Reply Desk)\n\nx\n"
        )
    )
    assert parsed.from_ == (Address("Doe, John", "john", "example.com"),)
    assert parsed.to == (
        Address(None, "a", "b.c"),
        Address("Jörg", "j", "d.e"),
        Address(None, "plain", "x.y"),
    )
    assert parsed.cc == (Address(None, "broken", None),)
    assert parsed.reply_to == (Address("Reply Desk", "r", "example.com"),)
    assert parsed.from_[0].email == "john@example.com"
    assert parsed.cc[0].email == ""


def test_reply_to_is_empty_when_absent() -> None:
    assert parse_mime(crlf("From: a@b.c\n\nx\n")).reply_to == ()


def test_dates_parse_to_aware_datetimes() -> None:
    assert parse_date(b"Tue, 1 Jul 2003 10:52:37 +0200") == datetime(
        2003, 7, 1, 10, 52, 37, tzinfo=timezone(timedelta(hours=2))
    )
    assert parse_date(b"26 Nov 2024 05:51 -0800 (PST)") == datetime(
        2024, 11, 26, 5, 51, tzinfo=timezone(timedelta(hours=-8))
    )
    assert parse_date(b"Tue, 1 Jul 2003 10:52:37 GMT") == datetime(2003, 7, 1, 10, 52, 37, tzinfo=UTC)


def test_unparseable_dates_give_none_but_keep_the_header_text() -> None:
    parsed = parse_mime(crlf("Date: Mon, 32 Foo\n\nx\n"))
    assert parsed.date is None
    assert parsed.date_header == "Mon, 32 Foo"
    assert parse_date(b"Tue, 31 Feb 2003 10:52:37 +0200") is None


def test_message_id_is_the_angle_bracketed_id() -> None:
    assert parse_mime(crlf("Message-ID:   <a@b>  (comment)\n\nx\n")).message_id == "<a@b>"
    assert parse_mime(crlf("Message-ID: bare-id\n\nx\n")).message_id == "bare-id"
    assert parse_mime(crlf("Subject: x\n\nx\n")).message_id is None
