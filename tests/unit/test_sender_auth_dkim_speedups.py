"""The faster stand-ins for dkimpy's message split, whitespace compression and key parsing answer
exactly what dkimpy's own functions answer."""

from __future__ import annotations

import re

import dkim
import pytest
from hypothesis import given, settings

from mailservice.adapters.senderauth import dkim_speedups
from tests.support.cheap_strategies import joined_bytes
from tests.support.dkim_keys import DkimKey

_LINE_PIECES = [
    b"Subject",
    b"From",
    b": ",
    b":",
    b" ",
    b"\t",
    b"  ",
    b"x",
    b"From ",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"v",
]
MESSAGES = joined_bytes(_LINE_PIECES, 40)


def _outcome(parse: object, message: bytes) -> object:
    try:
        return parse(message)  # type: ignore[operator]
    except (dkim.MessageFormatError, IndexError) as error:
        return type(error)


@settings(max_examples=200, deadline=None)
@given(MESSAGES)
def test_the_split_into_header_fields_and_body_is_dkimpys(message: bytes) -> None:
    assert _outcome(dkim_speedups.rfc822_parse, message) == _outcome(
        dkim_speedups._original_rfc822_parse, message
    )


@pytest.mark.parametrize(
    "message",
    [
        b"From: a@b\r\nSubject: x\r\n\tfolded\r\n\r\nbody line\r\nbare\nend\r\n",
        b"Subject: only a header\r\n",
        b"\r\nbody without header\r\n",
        b"From someone Mon\r\nFrom: a@b\r\n\r\n",
    ],
)
def test_the_split_of_typical_messages_is_dkimpys(message: bytes) -> None:
    assert dkim_speedups.rfc822_parse(message) == dkim_speedups._original_rfc822_parse(message)


@settings(max_examples=200, deadline=None)
@given(joined_bytes([b" ", b"\t", b"a", b"\r\n", b"  \t"], 30))
def test_whitespace_compression_is_dkimpys(content: bytes) -> None:
    assert dkim_speedups.compress_whitespace(content) == re.sub(b"[\t ]+", b" ", content)


@settings(max_examples=200, deadline=None)
@given(joined_bytes([b" ", b"\t", b"a", b"\r", b"\n", b"\r\n"], 30))
def test_unfolding_and_trailing_space_removal_are_dkimpys(content: bytes) -> None:
    assert dkim_speedups.unfold_header_value(content) == re.sub(b"\r?\n", b"", content)
    assert dkim_speedups.strip_trailing_whitespace(content) == re.sub(b"[\t ]+\r\n", b"\r\n", content)


def test_a_key_record_is_parsed_as_dkimpy_parses_it_and_a_bad_one_still_raises() -> None:
    key = DkimKey.rsa("sel")
    record = key.dns_record.encode()

    def lookup(name: bytes, timeout: float = 5) -> bytes:
        return record

    assert dkim_speedups.load_pk_from_dns(b"sel._domainkey.a.test.", lookup) == tuple(
        dkim.evaluate_pk(b"sel._domainkey.a.test.", record)
    )
    with pytest.raises(dkim.KeyFormatError):
        dkim_speedups.load_pk_from_dns(b"sel._domainkey.a.test.", lambda name, timeout=5: b"v=DKIM1; p=")
