"""Part numbering, offsets and per-part facts from parse_mime."""

from __future__ import annotations

from mailservice.mime import PartInfo, parse_mime


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def body_of(raw: bytes, part: PartInfo) -> bytes:
    return raw[part.body_start : part.body_end]


def header_of(raw: bytes, part: PartInfo) -> bytes:
    return raw[part.header_start : part.header_end]


def test_single_part_message_body_is_part_one_with_the_message_header() -> None:
    raw = crlf("From: a@b.c\nSubject: hi\n\nhello\n")
    parsed = parse_mime(raw)
    assert parsed.header_end == raw.index(b"hello")
    assert parsed.content_type == "text/plain"
    (part,) = parsed.parts
    assert part.section == "1"
    assert header_of(raw, part) == raw[: parsed.header_end]
    assert body_of(raw, part) == b"hello\r\n"
    assert part.header_end == part.body_start


def test_multipart_parts_exclude_the_line_break_before_the_next_boundary() -> None:
    raw = crlf(
        'Content-Type: multipart/alternative; boundary="XYZ"\n\npreamble\n'
        "--XYZ\nContent-Type: text/plain; charset=UTF-8\n\nplain\n"
        "--XYZ\nContent-Type: text/html\n\n<p>html</p>\n--XYZ--\nepilogue\n"
    )
    parsed = parse_mime(raw)
    assert parsed.content_type == "multipart/alternative"
    assert [part.section for part in parsed.parts] == ["1", "2"]
    assert [body_of(raw, part) for part in parsed.parts] == [b"plain", b"<p>html</p>"]
    assert header_of(raw, parsed.parts[0]) == b"Content-Type: text/plain; charset=UTF-8\r\n\r\n"
    assert parsed.parts[0].charset == "utf-8"
    assert parsed.parts[1].content_type == "text/html"


def test_attachment_facts_come_from_rfc2231_and_rfc2047_parameters() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain\n\nsee attached\n"
        '--b1\nContent-Type: application/pdf; name="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="\n'
        "Content-Disposition: attachment;\n filename*0*=utf-8''r%C3%A9;\n filename*1*=sum%C3%A9.pdf\n"
        "Content-Transfer-Encoding: BASE64\n\nJVBERi0xLjQK\n"
        '--b1\nContent-Type: image/png; name="=?utf-8?q?r=C3=A9sum=C3=A9.png?="\n\niVBO\n--b1--\n'
    )
    parsed = parse_mime(raw)
    text, pdf, png = parsed.parts
    assert not text.is_attachment
    assert (pdf.filename, pdf.disposition, pdf.transfer_encoding, pdf.is_attachment) == (
        "résumé.pdf",
        "attachment",
        "base64",
        True,
    )
    assert (png.filename, png.is_attachment) == ("résumé.png", True)
    assert parsed.has_attachments


def test_inline_part_with_a_file_name_is_not_an_attachment() -> None:
    raw = crlf(
        "Content-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<img src=cid:x>\n"
        "--r\nContent-Type: image/png\nContent-Disposition: inline; filename=x.png\n\niVBO\n--r--\n"
    )
    parsed = parse_mime(raw)
    assert not parsed.parts[1].is_attachment
    assert not parsed.has_attachments


def test_enclosed_message_parts_are_numbered_under_the_message_part() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\nsee fwd\n"
        "--outer\nContent-Type: message/rfc822\n\n"
        "From: inner@b.c\nContent-Type: multipart/alternative; boundary=inner\n\n"
        "--inner\nContent-Type: text/plain\n\ninner"
        " text\n--inner\nContent-Type: text/html\n\n<b>x</b>\n--inner--\n"
        "\n--outer\nContent-Type: message/rfc822\n\nFrom: s@b.c\nSubject: single\n\nsingle body\n--outer--\n"
    )
    parsed = parse_mime(raw)
    sections = {part.section: part for part in parsed.parts}
    assert list(sections) == ["1", "2", "2.1", "2.2", "3", "3.1"]
    forwarded, single = sections["2"], sections["3"]
    assert forwarded.content_type == "message/rfc822" and forwarded.is_attachment
    assert forwarded.message_content_type == "multipart/alternative"
    assert forwarded.message_header_end is not None and forwarded.message_body_end is not None
    assert raw[forwarded.body_start : forwarded.message_header_end].startswith(b"From: inner@b.c")
    assert body_of(raw, sections["2.1"]) == b"inner text"
    assert single.message_content_type == "text/plain"
    assert body_of(raw, sections["3.1"]) == b"single body"
    assert header_of(raw, sections["3.1"]) == b"From: s@b.c\r\nSubject: single\r\n\r\n"
    assert parsed.text == "see fwd"


def test_multipart_without_boundary_has_no_parts_and_reads_as_text() -> None:
    raw = crlf("Content-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\nhi\n--x--\n")
    parsed = parse_mime(raw)
    assert parsed.parts == ()
    assert parsed.text == "--x\nContent-Type: text/plain\n\nhi\n--x--\n"


def test_unterminated_multipart_ends_its_last_part_at_the_end_of_input() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=q\n\n--q\n\npart one\n--q\nContent-Type: text/html\n\n<i>two"
    )
    parsed = parse_mime(raw)
    assert [body_of(raw, part) for part in parsed.parts] == [b"part one", b"<i>two"]
    assert parsed.parts[-1].body_end == len(raw)


def test_boundary_lines_of_an_outer_multipart_end_inner_parts() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type:"
        " multipart/alternative; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\np\n--a\nContent-Type: text/html\n\nh\n--a--\n"
    )
    parsed = parse_mime(raw)
    assert [part.section for part in parsed.parts] == ["1", "1.1", "2"]
    assert body_of(raw, parsed.parts[0]) == b"--b\r\nContent-Type: text/plain\r\n\r\np"
    assert body_of(raw, parsed.parts[2]) == b"h"


def test_bare_lf_message_is_parsed_the_same_way() -> None:
    raw = (
        b"Subject: lf\nContent-Type: multipart/mixed; boundary=q\n\n"
        b"--q\nContent-Type: text/plain\n\none\n--q\n\ntwo\n--q--\n"
    )
    parsed = parse_mime(raw)
    assert parsed.subject == "lf"
    assert [body_of(raw, part) for part in parsed.parts] == [b"one", b"two"]
    assert parsed.text == "one"


def test_eight_bit_body_is_kept_and_decoded_with_its_charset() -> None:
    raw = b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    raw += "caf\xe9 cr\xe8me\r\n".encode("latin-1")
    parsed = parse_mime(raw)
    assert body_of(raw, parsed.parts[0]) == b"caf\xe9 cr\xe8me\r\n"
    assert parsed.text == "café crème\n"


def test_empty_body_and_header_only_messages() -> None:
    header_only = crlf("From: a@b.c\nSubject: x\n")
    parsed = parse_mime(header_only)
    assert parsed.header_end == len(header_only)
    assert body_of(header_only, parsed.parts[0]) == b""
    assert parsed.text == ""
    empty = parse_mime(b"")
    assert (empty.header_end, empty.parts[0].body_end, empty.subject, empty.from_) == (0, 0, None, ())


def test_message_without_header_starts_its_body_after_the_blank_line() -> None:
    parsed = parse_mime(crlf("\nbody only\n"))
    assert parsed.header_end == 2
    assert parsed.text == "body only\n"


def test_garbage_without_blank_line_is_all_header() -> None:
    raw = b"\x00\xff\xfe garbage no colon\r\nmore\r\n"
    parsed = parse_mime(raw)
    assert parsed.header_end == len(raw)
    assert parsed.text == ""
