"""Strict Ed25519 encodings: keys and signatures a proof of possession must refuse.

RFC 8032 verifiers, OpenSSL's included, accept a public key of small order. Such a key has no private
key behind it, and with R = identity and S = 0 its "signature" verifies for every message. Refusing the
eight small-order points (in every encoding), non-canonical point encodings and S >= L leaves each key and
each signature exactly one valid encoding.
"""

from __future__ import annotations

from mailservice.domain.errors import InvalidProof, InvalidPublicKey

FIELD_PRIME = 2**255 - 19
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
POINT_BYTES = 32
_SIGN_BIT = 1 << 255
_ORDER_8_Y = 0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826
# The y coordinates of the points of order 1, 2, 4 and 8; each small-order point has one of them.
_SMALL_ORDER_Y = frozenset({1, FIELD_PRIME - 1, 0, _ORDER_8_Y, FIELD_PRIME - _ORDER_8_Y})
# Only for y = 1 and y = -1 is x zero, so a set sign bit there encodes "-0", which is not canonical.
_ZERO_X_Y = frozenset({1, FIELD_PRIME - 1})


def check_public_key(raw: bytes) -> None:
    """Raise InvalidPublicKey unless `raw` is the canonical encoding of a point of large order."""
    if not _is_canonical_point(raw):
        raise InvalidPublicKey("malformed public key: not a canonical Ed25519 point")
    if _y_coordinate(raw) in _SMALL_ORDER_Y:
        raise InvalidPublicKey("malformed public key: an Ed25519 key of small order proves nothing")


def check_signature(signature: bytes) -> None:
    """Raise InvalidProof unless the 64-byte `signature` has a canonical R and S < L."""
    encoded_r, encoded_s = signature[:POINT_BYTES], signature[POINT_BYTES:]
    if len(encoded_s) != POINT_BYTES or not _is_canonical_point(encoded_r):
        raise InvalidProof("invalid signature")
    if int.from_bytes(encoded_s, "little") >= GROUP_ORDER:
        raise InvalidProof("invalid signature")


def _is_canonical_point(encoded: bytes) -> bool:
    if len(encoded) != POINT_BYTES:
        return False
    y = _y_coordinate(encoded)
    negative_x = bool(int.from_bytes(encoded, "little") & _SIGN_BIT)
    return y < FIELD_PRIME and not (negative_x and y in _ZERO_X_Y)


def _y_coordinate(encoded: bytes) -> int:
    return int.from_bytes(encoded, "little") & ~_SIGN_BIT
