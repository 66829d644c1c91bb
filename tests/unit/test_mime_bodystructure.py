"""BODY and BODYSTRUCTURE texts; every expected string here is what Dovecot 2.3.19 answered."""

from __future__ import annotations

from mailservice.mime import parse_mime


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


SIMPLE = crlf("From: John <j@x.org>\nSubject: hi\n\nhello\n")
ALTERNATIVE = crlf(
    "From: a@b.c\nSubject: alt\nMIME-Version: 1.0\n"
    'Content-Type: multipart/alternative; boundary="XYZ"\n\n'
    "preamble\n--XYZ\nContent-Type: text/plain;"
    " charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    "Hello =C3=A9 world=\nsoft\n\n"
    '--XYZ\nContent-Type: text/html; charset="utf-8"\n\n<p>Hello <b>world</b></p>\n--XYZ--\nepilogue\n'
)
MIXED = crlf(
    "From: a@b.c\nSubject: att\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1; foo=bar\n\n"
    "--b1\nContent-Type: text/plain\n\nsee attached\n"
    '--b1\nContent-Type: application/pdf; name="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="\n'
    "Content-Disposition: attachment;\n filename*0*=utf-8''r%C3%A9;\n filename*1*=sum%C3%A9.pdf\n"
    "Content-Transfer-Encoding: base64\nContent-ID: <cid1>\nContent-Description: a pdf\n"
    "Content-Language: en, de\nContent-Location: http://x/y\nContent-MD5: abc==\n\n"
    "JVBERi0xLjQK\n--b1--\n"
)
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
TEXT_DEFAULT = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" %d %d'


def test_single_part_without_content_type_is_us_ascii_text_plain() -> None:
    parsed = parse_mime(SIMPLE)
    assert parsed.body == TEXT_DEFAULT % (7, 1) + ")"
    assert parsed.bodystructure == TEXT_DEFAULT % (7, 1) + " NIL NIL NIL NIL)"


def test_alternative_keeps_header_case_and_counts_only_part_bytes() -> None:
    parsed = parse_mime(ALTERNATIVE)
    assert parsed.body == (
        '(("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" 27 2)'
        '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 25 0) "alternative")'
    )
    assert parsed.bodystructure == (
        '(("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" 27 2 NIL NIL NIL NIL)'
        '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 25'
        ' 0 NIL NIL NIL NIL) "alternative" ("boundary" "XYZ")'
        " NIL NIL NIL)"
    )


def test_attachment_has_extension_data_and_raw_rfc2231_and_rfc2047_parameters() -> None:
    parsed = parse_mime(MIXED)
    assert parsed.bodystructure == (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 0 NIL NIL NIL NIL)'
        '("application" "pdf" ("name" "=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=")'
        ' "<cid1>" "a pdf" "base64" 12 "abc=="'
        ' ("attachment" ("filename*" "utf-8\'\'r%C3%A9sum%C3%A9.pdf")) ("en" "de") "http://x/y")'
        ' "mixed" ("boundary" "b1" "foo" "bar") NIL NIL NIL)'
    )


def test_message_rfc822_parts_carry_envelope_structure_and_lines() -> None:
    parsed = parse_mime(NESTED)
    assert parsed.body == (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 0)'
        '("message" "rfc822" NIL NIL NIL "7bit" 194 (NIL "inner"'
        ' ((NIL NIL "inner" "b.c")) ((NIL NIL "inner" "b.c"))'
        ' ((NIL NIL "inner" "b.c")) NIL NIL NIL NIL NIL) (("text"'
        ' "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0)'
        '("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0) "alternative") 13)'
        '("message" "rfc822" NIL NIL NIL "7bit" 43 (NIL "single" ((NIL NIL "s" "b.c")) ((NIL NIL "s" "b.c"))'
        ' ((NIL NIL "s" "b.c")) NIL NIL NIL NIL NIL) ("text"'
        ' "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 0) 3)'
        ' "mixed")'
    )


def test_multipart_without_boundary_gets_one_empty_text_part() -> None:
    parsed = parse_mime(crlf("Content-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\nhi\n--x--\n"))
    assert parsed.body == '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")'
    assert parsed.bodystructure.endswith('"mixed" NIL NIL NIL NIL)')


def test_unterminated_multipart_keeps_the_parts_that_are_there() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\npart one\n"
        "--q\nContent-Type: text/html\n\n<i>two"
    )
    assert parse_mime(raw).body == (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 0)'
        '("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 6 0) "mixed")'
    )


def test_digest_parts_without_content_type_are_messages() -> None:
    raw = crlf(
        "Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: x@y.z\nSubject: d1\n\nbody1\n"
        "--d\nContent-Type: text/plain\n\nplain\n--d--\n"
    )
    assert parse_mime(raw).body == (
        '(("message" "rfc822" NIL NIL NIL "7bit" 33 (NIL "d1" ((NIL NIL "x" "y.z")) ((NIL NIL "x" "y.z"))'
        ' ((NIL NIL "x" "y.z")) NIL NIL NIL NIL NIL) ("text"'
        ' "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0) 3)'
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0) "digest")'
    )


def test_plain_rfc2231_continuations_are_merged_after_other_parameters() -> None:
    raw = crlf(
        'Content-Type: application/octet-stream; name*0="abc"; name*1="def.txt"; x=y\n'
        'Content-Disposition: inline; filename="a b.txt"; size=12\n\nx\n'
    )
    assert parse_mime(raw).bodystructure == (
        '("application" "octet-stream" ("x" "y" "name" "abcdef.txt") NIL NIL "7bit" 3 NIL'
        ' ("inline" ("filename" "a b.txt" "size" "12")) NIL NIL)'
    )


def test_broken_content_types_are_read_like_dovecot() -> None:
    def head(content_type: str) -> str:
        return parse_mime(crlf(f"Content-Type: {content_type}\n\nx\n")).body.split(" NIL NIL ")[0]

    assert head("text") == '("text" "" ("charset" "us-ascii")'
    assert head(";;;") == '("" ""'
    assert head("text/plain garbage; charset=x") == '("" ""'
    assert head("multipart; boundary=q") == '("" ""'
    assert head("multipart") == '("application" "octet-stream"'


def test_content_headers_of_a_message_without_mime_version_are_ignored() -> None:
    without = parse_mime(crlf("Content-Disposition: attachment\n\nx\n"))
    with_version = parse_mime(crlf("MIME-Version: 1.0\nContent-Disposition: attachment\n\nx\n"))
    assert without.bodystructure.endswith("NIL NIL NIL NIL)")
    assert with_version.bodystructure.endswith('NIL ("attachment" NIL) NIL NIL)')


def test_eight_bit_parameter_values_are_sent_as_literals() -> None:
    raw = 'Content-Type: text/plain; name="é.txt"\r\n\r\nx\r\n'.encode()
    assert parse_mime(raw).body == (
        '("text" "plain" ("name" {6}\r\né.txt "charset" "us-ascii") NIL NIL "7bit" 3 1)'
    )


def test_sizes_are_octets_of_the_stored_bytes_even_with_bare_lf() -> None:
    raw = b"Subject: lf\nContent-Type: text/plain; charset=utf-8\n\nline1\nline2\n"
    assert parse_mime(raw).body == '("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 2)'


def test_empty_message_and_header_only_message_have_empty_bodies() -> None:
    assert parse_mime(b"").body == TEXT_DEFAULT % (0, 0) + ")"
    assert parse_mime(crlf("From: a@b.c\nSubject: x\n")).body == TEXT_DEFAULT % (0, 0) + ")"


def test_nesting_deeper_than_dovecot_allows_becomes_application_octet_stream() -> None:
    raw = (
        b"Subject: top\r\n"
        + b"Content-Type: message/rfc822; x=y\r\n\r\n" * 100
        + b"Subject: x\r\n\r\nbody\r\n"
    )
    structure = parse_mime(raw).bodystructure
    assert structure.count('"message" "rfc822"') == 99
    assert '("application" "octet-stream" ("x" "y") NIL NIL "7bit" 20 NIL NIL NIL NIL)' in structure
