"""Keys of small order and non-canonical encodings prove nothing and are refused."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mailservice.adapters.identity import SshEd25519Key, parse_public_key, verify_signature
from mailservice.domain.errors import InvalidProof, InvalidPublicKey
from tests.support.ed25519_points import (
    CANONICAL_SMALL_ORDER,
    SMALL_ORDER,
    L,
    P,
    little_endian,
    negated,
    order_divides_8,
)

MESSAGE = b"v1.1735732800.0123456789abcdef0123456789abcdef." + b"ab" * 32
NAMESPACE = "edproof"
# R = identity, S = 0: for a key of small order this "signature" verifies for every message.
UNIVERSAL_SIGNATURE = b"\x01" + bytes(63)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _key_blob(raw: bytes) -> bytes:
    return _string(b"ssh-ed25519") + _string(raw)


def _key_line(raw: bytes) -> str:
    return "ssh-ed25519 " + base64.b64encode(_key_blob(raw)).decode()


def _sshsig(key_blob: bytes, raw_signature: bytes) -> str:
    signature_blob = _string(b"ssh-ed25519") + _string(raw_signature)
    fields = [key_blob, NAMESPACE.encode(), b"", b"sha512", signature_blob]
    blob = b"SSHSIG" + struct.pack(">I", 1) + b"".join(_string(field) for field in fields)
    return (
        "-----BEGIN SSH SIGNATURE-----\n"
        + base64.b64encode(blob).decode()
        + "\n-----END SSH SIGNATURE-----\n"
    )


def _raw(signature: bytes) -> str:
    return base64.b64encode(signature).decode()


def test_the_eight_small_order_points_are_all_listed() -> None:
    assert len(set(CANONICAL_SMALL_ORDER.values())) == 8
    assert all(order_divides_8(encoded) for encoded in SMALL_ORDER.values())
    assert not order_divides_8(PRIVATE.public_key().public_bytes_raw())


@pytest.mark.parametrize("raw", list(SMALL_ORDER.values()), ids=list(SMALL_ORDER))
def test_small_order_key_is_refused(raw: bytes) -> None:
    # when / then
    with pytest.raises(InvalidPublicKey, match="malformed public key"):
        parse_public_key(_key_line(raw))


@pytest.mark.parametrize("raw", list(SMALL_ORDER.values()), ids=list(SMALL_ORDER))
@pytest.mark.parametrize("armoured", [False, True], ids=["raw-signature", "sshsig"])
def test_universal_signature_of_a_small_order_key_does_not_verify(raw: bytes, armoured: bool) -> None:
    # given: a key object that skipped parsing, so verification must refuse it by itself
    key = SshEd25519Key(blob=_key_blob(raw), raw=raw)
    signature = _sshsig(key.blob, UNIVERSAL_SIGNATURE) if armoured else _raw(UNIVERSAL_SIGNATURE)
    # when / then
    with pytest.raises((InvalidPublicKey, InvalidProof)):
        verify_signature(key, MESSAGE, signature, NAMESPACE)


@pytest.mark.parametrize("y", [P + 2, P + 18, 2**255 - 1], ids=["p+2", "p+18", "2^255-1"])
def test_non_canonical_key_encoding_is_refused(y: int) -> None:
    # when / then
    with pytest.raises(InvalidPublicKey, match="not a canonical"):
        parse_public_key(_key_line(little_endian(y)))


PRIVATE = Ed25519PrivateKey.generate()
KEY = parse_public_key(_key_line(PRIVATE.public_key().public_bytes_raw()))


def _genuine_signature(armoured: bool) -> bytes:
    """PRIVATE's signature of MESSAGE, raw or of what an SSHSIG signature covers."""
    if not armoured:
        return PRIVATE.sign(MESSAGE)
    digest = hashlib.sha512(MESSAGE).digest()
    fields = [NAMESPACE.encode(), b"", b"sha512", digest]
    return PRIVATE.sign(b"SSHSIG" + b"".join(_string(field) for field in fields))


def _with_s(signature: bytes, s: int) -> bytes:
    return signature[:32] + s.to_bytes(32, "little")


@pytest.mark.parametrize("armoured", [False, True], ids=["raw-signature", "sshsig"])
def test_genuine_signature_still_verifies(armoured: bool) -> None:
    # given
    signature = _genuine_signature(armoured)
    text = _sshsig(KEY.blob, signature) if armoured else _raw(signature)
    # when / then
    verify_signature(KEY, MESSAGE, text, NAMESPACE)


@pytest.mark.parametrize("armoured", [False, True], ids=["raw-signature", "sshsig"])
@pytest.mark.parametrize("added", [L, 2 * L, 15 * L], ids=["S+L", "S+2L", "S+15L"])
def test_signature_with_s_not_reduced_modulo_l_is_refused(armoured: bool, added: int) -> None:
    # given: S + kL is the same scalar, so a lax verifier would accept it as a second signature
    signature = _genuine_signature(armoured)
    malleated = _with_s(signature, int.from_bytes(signature[32:], "little") + added)
    text = _sshsig(KEY.blob, malleated) if armoured else _raw(malleated)
    # when / then
    with pytest.raises(InvalidProof, match="invalid signature"):
        verify_signature(KEY, MESSAGE, text, NAMESPACE)


@pytest.mark.parametrize(
    "encoded_r",
    [
        little_endian(P),
        little_endian(P + 1),
        little_endian(2**255 - 1),
        negated(little_endian(1)),
        negated(little_endian(P - 1)),
    ],
    ids=["p", "p+1", "2^255-1", "negative-zero-identity", "negative-zero-order-2"],
)
@pytest.mark.parametrize("armoured", [False, True], ids=["raw-signature", "sshsig"])
def test_signature_with_non_canonical_r_is_refused(encoded_r: bytes, armoured: bool) -> None:
    # given
    signature = encoded_r + _genuine_signature(armoured)[32:]
    text = _sshsig(KEY.blob, signature) if armoured else _raw(signature)
    # when / then
    with pytest.raises(InvalidProof, match="invalid signature"):
        verify_signature(KEY, MESSAGE, text, NAMESPACE)
