"""parse_mime never raises and keeps every offset inside the message (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailservice.mime import MimeMessage, message, parse_mime, section_bytes
from mailservice.mime.message import build_mime

BOUNDARIES = st.sampled_from(["b", "bb", "b1", "=_part_", "x y", "", "ab", "a", "----=_NextPart"])
HEADER_LINES = st.sampled_from(
    [
        "Subject: =?utf-8?q?caf=C3=A9?= hi",
        'From: "Doe, J" <j@x.org>, group: a@b.c, <@r:q@w>;, bad <',
        "To: undisclosed-recipients:;",
        "Date: Tue, 1 Jul 2003 10:52:37 +0200",
        "Content-Transfer-Encoding: base64",
        "Content-Transfer-Encoding: quoted-printable",
        "Content-Disposition: attachment; filename*=utf-8''%C3%A9.txt",
        "Content-Language: en, de",
        "MIME-Version: 1.0",
        "garbage without colon",
        " continuation",
        'Content-Type: text/html; charset="iso-8859-1"',
        "Content-Type: ;;;",
        "Content-Type: message/rfc822",
        "X-Other: \xe9\x00",
    ]
)
BODY_LINES = st.sampled_from(
    ["hello =C3=A9=", "aGVsbG8=", "<p>hi</p>", "", "-- ", "--b", "--b--", "\xff\xfe"]
)


def check(raw: bytes) -> MimeMessage:
    parsed = build_mime(raw)
    size = len(raw)
    assert 0 <= parsed.header_end <= size
    for part in parsed.parts:
        assert 0 <= part.header_start <= part.header_end <= part.body_start <= part.body_end <= size
        if part.message_header_end is not None:
            assert part.message_body_end is not None
            assert part.body_start <= part.message_header_end <= part.message_body_end <= part.body_end
        for suffix in ("", ".MIME", ".HEADER", ".TEXT", ".1"):
            section_bytes(raw, parsed, part.section + suffix)
    for section in ("", "HEADER", "TEXT", "1", "2.1.MIME"):
        section_bytes(raw, parsed, section)
    return parsed


@st.composite
def entities(draw: st.DrawFn, depth: int = 0) -> str:
    headers = draw(st.lists(HEADER_LINES, max_size=4))
    kind = draw(st.sampled_from(["leaf", "multipart", "message"] if depth < 3 else ["leaf"]))
    separator = draw(st.sampled_from(["\n\n", "\r\n\r\n", "\r\n", "\n"]))
    if kind == "leaf":
        return "\r\n".join(headers) + separator + "\r\n".join(draw(st.lists(BODY_LINES, max_size=4)))
    if kind == "message":
        return "\r\n".join([*headers, "Content-Type: message/rfc822"]) + separator + draw(entities(depth + 1))
    boundary = draw(BOUNDARIES)
    subtype = draw(st.sampled_from(["mixed", "alternative", "digest"]))
    head = "\r\n".join([*headers, f'Content-Type: multipart/{subtype}; boundary="{boundary}"'])
    children = draw(st.lists(entities(depth + 1), max_size=3))
    closing = draw(st.sampled_from([f"\r\n--{boundary}--\r\n", "", "\r\n--other--"]))
    body = "".join(
        f"\r\n--{boundary}{draw(st.sampled_from(['', ' ', 'x']))}\r\n{child}" for child in children
    )
    return head + separator + draw(st.sampled_from(["", "preamble"])) + body + closing


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_and_offsets_stay_inside(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None)
@given(entities(), st.integers(min_value=0, max_value=4000))
def test_random_mime_trees_never_raise_and_offsets_stay_inside(message: str, cut: int) -> None:
    raw = message.encode("utf-8", "surrogateescape")
    check(raw)
    check(raw[:cut])


@settings(max_examples=200, deadline=None)
@given(
    entities(),
    st.lists(st.tuples(st.integers(min_value=0, max_value=3000), st.binary(max_size=8)), max_size=5),
)
def test_random_mime_with_spliced_garbage_never_raises(
    message: str, splices: list[tuple[int, bytes]]
) -> None:
    raw = message.encode("utf-8", "surrogateescape")
    for position, garbage in splices:
        raw = raw[:position] + garbage + raw[position:]
    parsed = check(raw)
    assert parsed.envelope.startswith("(") and parsed.bodystructure.startswith("(")


def test_deep_nesting_is_bounded_and_does_not_raise() -> None:
    raw = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n) for n in range(500)
    )
    check(raw)
    check(b"Content-Type: message/rfc822\r\n\r\n" * 2000)


def test_an_internal_failure_falls_back_to_a_single_text_part(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(raw: bytes) -> None:
        raise ValueError(raw)

    monkeypatch.setattr(message, "scan", fail)
    raw = b"Subject: x\r\n\r\nbody\r\n"
    parsed = parse_mime(raw)
    assert parsed.body == '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 3)'
    assert section_bytes(raw, parsed, "1") == raw
    assert parsed.text == "Subject: x\n\nbody\n"
