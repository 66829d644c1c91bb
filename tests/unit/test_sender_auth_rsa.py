"""RSA verification for dkimpy through OpenSSL answers exactly what dkimpy's own arithmetic answers."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from dkim import crypto

from mailservice.adapters.senderauth.rsa_verify import verify_pkcs1_v1_5

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC: dict[str, Any] = {
    "modulus": KEY.public_key().public_numbers().n,
    "publicExponent": KEY.public_key().public_numbers().e,
}


def signed(message: bytes, name: str = "sha256") -> tuple[Any, bytes]:
    algorithm = hashes.SHA256() if name == "sha256" else hashes.SHA1()
    return hashlib.new(name, message), KEY.sign(message, padding.PKCS1v15(), algorithm)


@pytest.mark.parametrize("name", ["sha256", "sha1"])
def test_a_good_signature_passes_and_a_changed_message_fails_as_with_dkimpy(name: str) -> None:
    digest, signature = signed(b"the signed header fields", name)
    other = hashlib.new(name, b"the signed header fields, changed")

    assert verify_pkcs1_v1_5(digest, signature, PUBLIC) is True
    assert crypto.RSASSA_PKCS1_v1_5_verify(digest, signature, PUBLIC) is True
    assert verify_pkcs1_v1_5(other, signature, PUBLIC) is False
    assert crypto.RSASSA_PKCS1_v1_5_verify(other, signature, PUBLIC) is False


def test_a_signature_without_its_leading_zero_byte_still_passes_as_with_dkimpy() -> None:
    digest, signature = next(
        found for n in range(5000) if (found := signed(f"message {n}".encode()))[1][0] == 0
    )

    assert verify_pkcs1_v1_5(digest, signature[1:], PUBLIC) is True
    assert crypto.RSASSA_PKCS1_v1_5_verify(digest, signature[1:], PUBLIC) is True


def test_garbage_signatures_fail_as_with_dkimpy() -> None:
    digest, signature = signed(b"x")

    for garbage in (b"", b"\x00" * 256, b"\xff" * 256, signature[:-1]):
        assert verify_pkcs1_v1_5(digest, garbage, PUBLIC) is crypto.RSASSA_PKCS1_v1_5_verify(
            digest, garbage, PUBLIC
        )
