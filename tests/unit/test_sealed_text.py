from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from mailservice.adapters.db.sealed_text import PREFIX, TextSealer, UnsealError

SECRET = b"a-secret-key-that-is-long-enough-0123456789"
LINK = "https://mail.example/v1/accounts/recovery/complete?token=rec_live-token-0123456789"


def test_sealed_text_opens_to_what_was_sealed_and_shows_none_of_it() -> None:
    # given
    sealer = TextSealer(SECRET)
    # when
    sealed = sealer.seal(LINK)
    # then
    assert sealed.startswith(PREFIX)
    assert "rec_" not in sealed and "token" not in sealed
    assert sealer.open(sealed) == LINK


def test_sealing_twice_gives_different_text() -> None:
    sealer = TextSealer(SECRET)
    assert sealer.seal(LINK) != sealer.seal(LINK)


def test_text_sealed_under_another_secret_does_not_open() -> None:
    sealed = TextSealer(b"another-secret-key-that-is-long-enough-0123").seal(LINK)
    with pytest.raises(UnsealError):
        TextSealer(SECRET).open(sealed)


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda s: _with_last_byte_flipped(s), id="flipped"),
        pytest.param(lambda s: s[:-8], id="truncated"),
        pytest.param(lambda s: PREFIX + "!!not base64!!", id="not-base64"),
        pytest.param(lambda s: PREFIX, id="empty"),
    ],
)
def test_altered_sealed_text_does_not_open(alter: Callable[[str], str]) -> None:
    sealer = TextSealer(SECRET)
    with pytest.raises(UnsealError):
        sealer.open(alter(sealer.seal(LINK)))


def _with_last_byte_flipped(sealed: str) -> str:
    """One bit of the sealed bytes changed. Changing a base64 character is not always that: beside the
    padding, some of a character's bits are unused, and a decoder ignores them."""
    data = bytearray(base64.urlsafe_b64decode(sealed[len(PREFIX) :]))
    data[-1] ^= 0x01
    return PREFIX + base64.urlsafe_b64encode(bytes(data)).decode("ascii")


def test_text_stored_before_sealing_began_reads_as_it_is() -> None:
    assert TextSealer(SECRET).open("Pay here: https://pay.example/1") == "Pay here: https://pay.example/1"
