"""IMAP string quoting, byte for byte as Dovecot 2.3 writes it."""

from __future__ import annotations

from mailservice.mime.imap_string import for_humans, imap_bytes, nstring, nstring_nolf


def test_nil_for_absent_values() -> None:
    assert nstring(None) == b"NIL"
    assert for_humans(None) == b"NIL"


def test_safe_values_are_quoted_and_up_to_four_specials_escaped() -> None:
    assert nstring(b"plain text") == b'"plain text"'
    assert nstring(b'a"b\\c') == b'"a\\"b\\\\c"'
    assert nstring(b'"1" "2"') == b'"\\"1\\" \\"2\\""'


def test_line_breaks_eight_bit_and_many_specials_make_literals() -> None:
    assert nstring(b"a\r\nb") == b"{4}\r\na\r\nb"
    assert nstring("é".encode()) == b"{2}\r\n\xc3\xa9"
    assert nstring(b'"1" "2" "') == b'{9}\r\n"1" "2" "'


def test_nolf_drops_line_breaks_but_keeps_the_folding_whitespace() -> None:
    assert nstring_nolf(b"a\r\n\tb") == b'"a\tb"'


def test_for_humans_collapses_whitespace_into_a_literal() -> None:
    assert for_humans(b"Hello") == b'"Hello"'
    assert for_humans(b"Hello\r\n   folded\tworld  ") == b"{18}\r\nHello folded world"
    assert for_humans(b'x"y') == b'{3}\r\nx"y'
    assert for_humans(b"   ") == b'""'
    assert for_humans(b"a\x00b") == b"{5}\r\na\xef\xbf\xbdb"


def test_imap_texts_encode_back_to_the_original_bytes() -> None:
    assert imap_bytes("{3}\r\n\udce9ab") == b"{3}\r\n\xe9ab"
