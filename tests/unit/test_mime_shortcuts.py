"""The regular-expression shortcuts for simple values agree with the full Dovecot-style parsers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailservice.mime.addresses import read_address_list, simple_list
from mailservice.mime.field_values import parse_content_type, read_content_type

WORDS = st.sampled_from(['"Doe, John"', "John", "Q.", "=?utf-8?q?J=C3=B6?=", '""', "é", "a.b", '"x y"'])
ADDR_SPECS = st.sampled_from(["a@b.c", "john.doe@example.com", "x_y@z", "é@ü.de", "a.b.c@d"])
SPACES = st.sampled_from(["", " ", "  ", "\t", "\r\n "])


@st.composite
def address_lists(draw: st.DrawFn) -> bytes:
    items = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        spec = draw(ADDR_SPECS)
        if draw(st.booleans()):
            words = draw(st.lists(WORDS, max_size=3))
            spec = " ".join([*words, f"<{spec}>"])
        items.append(draw(SPACES) + spec + draw(SPACES))
    return ",".join(items).encode()


@settings(max_examples=300, deadline=None)
@given(address_lists())
def test_simple_address_lists_read_the_same_both_ways(value: bytes) -> None:
    assert simple_list(value) in (None, read_address_list(value))


TYPES = st.sampled_from(["text/plain", "TEXT/HTML", "multipart/mixed", "application/x.y-z", "message/rfc822"])
PARAMS = st.sampled_from(["charset=utf-8", 'charset="iso-8859-1"', 'name="a b.pdf"', "format=flowed", 'x=""'])


@settings(max_examples=300, deadline=None)
@given(TYPES, st.lists(st.tuples(SPACES, PARAMS, SPACES), max_size=3), SPACES, st.booleans())
def test_simple_content_types_read_the_same_both_ways(
    content_type: str, params: list[tuple[str, str, str]], space: str, trailing: bool
) -> None:
    text = space + content_type + "".join(f";{before}{param}{after}" for before, param, after in params)
    value = (text + (";" if trailing else "")).encode()
    assert parse_content_type(value) == read_content_type(value)
