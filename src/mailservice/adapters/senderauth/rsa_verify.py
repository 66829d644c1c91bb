"""RSA signature verification for dkimpy through `cryptography` (OpenSSL).

dkimpy verifies RSA signatures with Python integers and converts them to bytes one byte at a time; for a
2048-bit key that was about 1 ms of CPU per message, half of the whole sender check, under the
interpreter lock the listeners need. OpenSSL does the same in a few microseconds. `install()` puts this
function where dkimpy looks for its own (the version is pinned in pyproject.toml for that reason).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import dkim
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim import crypto

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}
KEY_CACHE_SIZE = 1024


class _Digest(Protocol):
    @property
    def name(self) -> str: ...

    def digest(self) -> bytes: ...


def verify_pkcs1_v1_5(digest: _Digest, signature: bytes, public_key: dict[str, Any]) -> bool:
    """What `dkim.crypto.RSASSA_PKCS1_v1_5_verify` answers, computed by OpenSSL."""
    algorithm = _HASHES.get(digest.name.lower())
    modulus, exponent = public_key["modulus"], public_key["publicExponent"]
    length = (modulus.bit_length() + 7) // 8
    signature = bytes(signature)
    if algorithm is None or len(signature) > length:
        return bool(crypto.RSASSA_PKCS1_v1_5_verify(digest, signature, public_key))
    try:
        key = _public_key(exponent, modulus)
        # dkimpy reads the signature as a number, so one whose leading zero bytes were dropped still counts
        key.verify(
            signature.rjust(length, b"\x00"),
            digest.digest(),
            padding.PKCS1v15(),
            utils.Prehashed(algorithm()),
        )
    except InvalidSignature:
        return False
    except (UnsupportedAlgorithm, ValueError):
        return bool(crypto.RSASSA_PKCS1_v1_5_verify(digest, signature, public_key))
    return True


@lru_cache(maxsize=KEY_CACHE_SIZE)
def _public_key(exponent: int, modulus: int) -> rsa.RSAPublicKey:
    """OpenSSL's key object, built once per key."""
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def install() -> None:
    dkim.RSASSA_PKCS1_v1_5_verify = verify_pkcs1_v1_5
