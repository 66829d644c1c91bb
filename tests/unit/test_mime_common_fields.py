"""Common header fields cut out at delivery answer HEADER.FIELDS of common names with the bytes the
whole header gives: generated headers with folded lines, any case of names, duplicates, blanks before
the colon, bare LF, NUL bytes, lines that are no field, and headers without a blank line or a last
line end."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailservice.mime.common_fields import COMMON_FIELDS, all_common, common_field_picker, common_fields
from mailservice.mime.header_fields import field_picker

_OTHER_NAMES = ("X-Other", "Received", "DKIM-Signature", "From-X", "Tox", "Subjec", "MIME-Version")
_CASES = st.sampled_from([str.lower, str.upper, str.title, lambda name: name])
_NAME = st.one_of(st.sampled_from(COMMON_FIELDS), st.sampled_from(_OTHER_NAMES))
_TEXT = st.binary(max_size=12).map(lambda text: text.replace(b"\n", b"").replace(b"\r", b""))
_END = st.sampled_from([b"\r\n", b"\n"])


@st.composite
def _field(draw: st.DrawFn) -> bytes:
    case: Callable[[str], str] = draw(_CASES)
    name = case(draw(_NAME)).encode("ascii")
    blanks = draw(st.sampled_from([b"", b" ", b"\t", b" \t "]))
    line = name + blanks + b":" + draw(_TEXT) + draw(_END)
    for _ in range(draw(st.integers(0, 2))):
        line += draw(st.sampled_from([b" ", b"\t"])) + draw(_TEXT) + draw(_END)
    return line


_ODD_LINE = st.sampled_from(
    [b"no colon here\r\n", b": no name\r\n", b" From: folded start\r\n", b"\x00From: x\n"]
)
_LINE = st.one_of(_field(), _field(), _field(), _ODD_LINE)


@st.composite
def _header(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(_LINE, max_size=12))
    header = b"".join(lines)
    ending = draw(st.sampled_from(["blank line", "none", "cut"]))
    if ending == "blank line":
        # what follows the blank line is body, never fields, even when it looks like them
        return header + draw(_END) + b"From: in the body\r\n"
    if ending == "cut" and header:
        return header[: draw(st.integers(0, len(header) - 1))]
    return header


_NAMES = st.lists(
    st.sampled_from(COMMON_FIELDS).flatmap(lambda name: _CASES.map(lambda case: case(name))), min_size=1
)
_SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(header=_header(), names=_NAMES)
def test_common_fields_answer_as_the_whole_header_does(header: bytes, names: list[str]) -> None:
    # given a header and a list of common field names
    block, layout = common_fields(header)
    # when the fields are picked from the block cut out of it
    picked = common_field_picker(tuple(names))(block, layout)
    # then they are the bytes picked from the whole header
    assert picked == field_picker(tuple(names))(header)


@_SETTINGS
@given(headers=st.lists(_header(), max_size=8), names=_NAMES)
def test_many_blocks_picked_at_once_answer_each_as_alone(headers: list[bytes], names: list[str]) -> None:
    rows = [(uid, *common_fields(header)) for uid, header in enumerate(headers)]
    picker = common_field_picker(tuple(names))
    # each without the blank line the picker ends its answer with
    assert [(uid, fields + b"\r\n") for uid, fields in picker.pick_rows(rows)] == [
        (uid, field_picker(tuple(names))(header)) for uid, header in enumerate(headers)
    ]


def test_the_layout_names_the_field_of_each_line() -> None:
    block, layout = common_fields(b"X-A: 1\r\nsubject : a\r\n\tb\nTO: c\r\nX-B: 2\r\n\r\nFrom: body\r\n")
    assert block == b"subject : a\r\n\tb\nTO: c\r\n"
    subject, to = COMMON_FIELDS.index("Subject"), COMMON_FIELDS.index("To")
    assert layout == bytes([subject, subject, to])


def test_a_header_without_common_fields_has_an_empty_block() -> None:
    assert common_fields(b"X-A: 1\r\n\r\n") == (b"", b"")
    assert common_field_picker(("From",))(b"", b"") == b"\r\n"


def test_a_layout_that_does_not_fit_its_block_is_searched_instead() -> None:
    block, _ = common_fields(b"From: a\r\nTo: b\r\n\r\n")
    assert common_field_picker(("To",))(block, b"\x00") == b"To: b\r\n\r\n"


def test_only_common_names_in_ascii_are_common() -> None:
    assert all_common(("from", "MESSAGE-ID", "x-priority"))
    assert not all_common(())
    assert not all_common(("From", "X-Other"))
    assert not all_common(("From ",))
    # fields are matched in ASCII only: a name outside it is never one of them
    assert not all_common(("Fr\u00f6m",))
