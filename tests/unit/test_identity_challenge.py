from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from mailservice.adapters.identity import ChallengeCodec, SshEd25519Key, parse_public_key
from mailservice.domain.errors import InvalidProof

SECRET = b"s" * 32
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _new_key() -> SshEd25519Key:
    public = Ed25519PrivateKey.generate().public_key()
    return parse_public_key(public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode())


def _forge(
    key: SshEd25519Key, issued_at: int, nonce: str = "0123456789abcdef" * 2, secret: bytes = SECRET
) -> str:
    body = f"v1.{issued_at}.{nonce}"
    mac_input = f"{body}.{base64.b64encode(key.blob).decode()}".encode()
    return f"{body}.{hmac.new(secret, mac_input, hashlib.sha256).hexdigest()}"


KEY = _new_key()
CODEC = ChallengeCodec(SECRET)


def test_issued_challenge_has_the_documented_shape_and_lifetime() -> None:
    # when
    issued = CODEC.issue(KEY, NOW)
    # then
    assert re.fullmatch(r"v1\.[0-9]+\.[0-9a-f]{32}\.[0-9a-f]{64}", issued.text)
    assert issued.text.split(".")[1] == str(int(NOW.timestamp()))
    assert issued.expires_in == 30
    assert issued.expires_at == NOW + timedelta(seconds=30)


def test_mac_covers_version_timestamp_nonce_and_key_blob() -> None:
    # given
    issued = CODEC.issue(KEY, NOW)
    _, issued_at, nonce, _ = issued.text.split(".")
    # when / then
    assert issued.text == _forge(KEY, int(issued_at), nonce)


def test_issued_challenge_is_accepted_for_the_same_key() -> None:
    # given
    issued = CODEC.issue(KEY, NOW)
    # when
    checked = CODEC.check(issued.text, KEY, NOW)
    # then
    assert checked.nonce == issued.text.split(".")[2]
    assert checked.expires_at == NOW + timedelta(seconds=35)


def test_each_challenge_has_a_fresh_nonce() -> None:
    # when
    first, second = CODEC.issue(KEY, NOW), CODEC.issue(KEY, NOW)
    # then
    assert first.text.split(".")[2] != second.text.split(".")[2]


def test_challenge_is_accepted_until_ttl_plus_skew() -> None:
    # given
    issued = CODEC.issue(KEY, NOW)
    # when / then
    CODEC.check(issued.text, KEY, NOW + timedelta(seconds=35))


def test_challenge_is_refused_after_ttl_plus_skew() -> None:
    # given
    issued = CODEC.issue(KEY, NOW)
    # when / then
    with pytest.raises(InvalidProof, match="challenge expired"):
        CODEC.check(issued.text, KEY, NOW + timedelta(seconds=36))


def test_challenge_from_within_the_clock_skew_is_accepted() -> None:
    # given
    issued = CODEC.issue(KEY, NOW + timedelta(seconds=5))
    # when / then
    CODEC.check(issued.text, KEY, NOW)


def test_challenge_from_beyond_the_clock_skew_is_refused() -> None:
    # given
    issued = CODEC.issue(KEY, NOW + timedelta(seconds=6))
    # when / then
    with pytest.raises(InvalidProof, match="challenge is from the future"):
        CODEC.check(issued.text, KEY, NOW)


def test_far_future_challenge_with_a_valid_mac_is_refused_as_from_the_future() -> None:
    # given
    challenge = _forge(KEY, 10**15)
    # when / then
    with pytest.raises(InvalidProof, match="challenge is from the future"):
        CODEC.check(challenge, KEY, NOW)


def test_challenge_with_a_tampered_mac_is_refused() -> None:
    # given
    text = CODEC.issue(KEY, NOW).text
    tampered = text[:-1] + ("0" if text[-1] != "0" else "1")
    # when / then
    with pytest.raises(InvalidProof, match="not issued by this server for this key"):
        CODEC.check(tampered, KEY, NOW)


def test_challenge_with_a_moved_timestamp_is_refused() -> None:
    # given
    _, issued_at, nonce, mac = CODEC.issue(KEY, NOW).text.split(".")
    tampered = f"v1.{int(issued_at) + 20}.{nonce}.{mac}"
    # when / then
    with pytest.raises(InvalidProof, match="not issued by this server for this key"):
        CODEC.check(tampered, KEY, NOW + timedelta(seconds=40))


def test_challenge_issued_for_another_key_is_refused() -> None:
    # given
    issued = CODEC.issue(_new_key(), NOW)
    # when / then
    with pytest.raises(InvalidProof, match="not issued by this server for this key"):
        CODEC.check(issued.text, KEY, NOW)


def test_challenge_issued_with_another_secret_is_refused() -> None:
    # given
    issued = ChallengeCodec(b"another secret").issue(KEY, NOW)
    # when / then
    with pytest.raises(InvalidProof, match="not issued by this server for this key"):
        CODEC.check(issued.text, KEY, NOW)


VALID = _forge(KEY, int(NOW.timestamp()))
_, TS, NONCE, MAC = VALID.split(".")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("v1", id="one-part"),
        pytest.param(f"v1.{TS}.{NONCE}", id="three-parts"),
        pytest.param(f"{VALID}.00", id="five-parts"),
        pytest.param(f"v2.{TS}.{NONCE}.{MAC}", id="other-version"),
        pytest.param(f"v1.0{TS}.{NONCE}.{MAC}", id="leading-zero"),
        pytest.param(f"v1.-{TS}.{NONCE}.{MAC}", id="negative-timestamp"),
        pytest.param(f"v1.{TS}.{NONCE.upper()}.{MAC}", id="uppercase-nonce"),
        pytest.param(f"v1.{TS}.{NONCE[:-1]}.{MAC}", id="short-nonce"),
        pytest.param(f"v1.{TS}.{NONCE}.{MAC.upper()}", id="uppercase-mac"),
        pytest.param(f"v1.{TS}.{NONCE}.{MAC}0", id="long-mac"),
        pytest.param(f"v1.١٧٣٥٧٣٢٨٠٠.{NONCE}.{MAC}", id="non-ascii-digits"),
        pytest.param(f" {VALID}", id="leading-space"),
        pytest.param(f"{VALID}\n", id="trailing-newline"),
        pytest.param("v1." + "1" * 200 + f".{NONCE}.{MAC}", id="too-long"),
    ],
)
def test_malformed_challenge_is_refused(text: str) -> None:
    # when / then
    with pytest.raises(InvalidProof, match="malformed challenge"):
        CODEC.check(text, KEY, NOW)


def test_codec_refuses_an_empty_secret() -> None:
    # when / then
    with pytest.raises(ValueError, match="secret"):
        ChallengeCodec(b"")


@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_with_invalid_proof(text: str) -> None:
    with pytest.raises(InvalidProof):
        CODEC.check(text, KEY, NOW)


@given(st.from_regex(r"v1\.[0-9]{1,20}\.[0-9a-f]{32}\.[0-9a-f]{64}", fullmatch=True))
def test_well_formed_text_without_a_valid_mac_is_refused_with_invalid_proof(text: str) -> None:
    with pytest.raises(InvalidProof):
        CODEC.check(text, KEY, NOW)


@given(st.integers(0, 10**16 - 1), st.integers(0, 10**11))
def test_genuine_challenge_at_any_time_is_accepted_or_refused_with_invalid_proof(
    issued_at: int, now: int
) -> None:
    # given
    challenge = _forge(KEY, issued_at)
    current = datetime.fromtimestamp(now, UTC)
    # when
    try:
        CODEC.check(challenge, KEY, current)
    except InvalidProof:
        accepted = False
    else:
        accepted = True
    # then
    assert accepted == (issued_at - 5 <= now <= issued_at + 35)
