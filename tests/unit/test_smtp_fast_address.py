"""The fast envelope-address path must agree with aiosmtpd's full parser wherever it answers."""

from __future__ import annotations

from typing import Any

from aiosmtpd.smtp import SMTP
from hypothesis import given
from hypothesis import strategies as st

from mailservice.protocols.smtp.fast_address import FastAddress


class _Handler:
    pass


class _Fast(FastAddress, SMTP):
    pass


def _parsers() -> tuple[Any, Any]:
    return _Fast(_Handler()), SMTP(_Handler())


def _outcome(parser: Any, argument: str) -> object:
    """What parsing gives, or the type of error it raises (aiosmtpd's parser raises on some inputs)."""
    try:
        result: object = parser._getaddr(argument)
    except Exception as error:
        return type(error)
    return result


ATOM_CHARS = st.sampled_from(list("abcXYZ019!#$%&'*+/=?^_`{|}~-.@<> \"\\()[],;:é"))


@given(st.text(ATOM_CHARS, max_size=40), st.sampled_from(["", " SIZE=100", " BODY=8BITMIME", "x", " "]))
def test_fast_path_agrees_with_aiosmtpd(text: str, rest: str) -> None:
    fast, full = _parsers()
    argument = f"<{text}>{rest}"

    assert _outcome(fast, argument) == _outcome(full, argument)


@given(st.text(max_size=60))
def test_any_argument_gives_what_aiosmtpd_gives(argument: str) -> None:
    fast, full = _parsers()

    assert _outcome(fast, argument) == _outcome(full, argument)


def test_plain_address_with_parameters() -> None:
    fast, _ = _parsers()

    assert fast._getaddr("<mbx_0123456789a+tag@agents.test> SIZE=5000") == (
        "mbx_0123456789a+tag@agents.test",
        "SIZE=5000",
    )
