"""Key fingerprints are shown as ssh-keygen shows them; the older `sha256:<hex>` spelling is still read."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.domain.errors import InvalidInput
from mailservice.domain.key_fingerprint import ssh_fingerprint, stored_fingerprint

BLOB = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))


def test_stored_spelling_is_shown_as_ssh_keygen_writes_it() -> None:
    shown = ssh_fingerprint(stored_fingerprint(BLOB))
    assert shown.startswith("SHA256:") and len(shown) == 50 and "=" not in shown


def test_both_spellings_name_the_same_key() -> None:
    shown = ssh_fingerprint(stored_fingerprint(BLOB))
    assert ssh_fingerprint(shown) == shown


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SHA256:",
        "sha256:zz",
        "SHA256:" + "!" * 43,
        "md5:" + "0" * 32,
        "sha256:" + "0" * 63,
        "SHA256:" + "A" * 42,
    ],
)
def test_anything_else_is_refused_clearly(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a key fingerprint"):
        ssh_fingerprint(text)


@given(st.binary(min_size=1, max_size=64))
def test_every_blob_round_trips(blob: bytes) -> None:
    shown = ssh_fingerprint(stored_fingerprint(blob))
    assert ssh_fingerprint(shown) == shown
    assert stored_fingerprint(blob) == "sha256:" + hashlib.sha256(blob).hexdigest()


@given(st.text(max_size=60))
def test_arbitrary_text_never_crashes(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        assert ssh_fingerprint(text).startswith("SHA256:")
