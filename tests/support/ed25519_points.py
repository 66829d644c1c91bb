"""Ed25519 points of small order in every encoding, and a plain-arithmetic check that they are.

The encodings are built here from their y coordinates; `order_divides_8` proves each one by computing
8P on the curve, independently of the code under test.
"""

from __future__ import annotations

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
_SQRT_MINUS_1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1)
ORDER_8_A = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
ORDER_8_B = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")


def little_endian(number: int) -> bytes:
    return number.to_bytes(32, "little")


def negated(encoded: bytes) -> bytes:
    """The same y with the sign bit of x set."""
    return encoded[:31] + bytes([encoded[31] | 0x80])


CANONICAL_SMALL_ORDER = {
    "identity": little_endian(1),
    "order-2": little_endian(P - 1),
    "order-4": little_endian(0),
    "order-4-negative": negated(little_endian(0)),
    "order-8-a": ORDER_8_A,
    "order-8-a-negative": negated(ORDER_8_A),
    "order-8-b": ORDER_8_B,
    "order-8-b-negative": negated(ORDER_8_B),
}
NON_CANONICAL_SMALL_ORDER = {
    "identity-negative-zero": negated(little_endian(1)),
    "order-2-negative-zero": negated(little_endian(P - 1)),
    "order-4-as-p": little_endian(P),
    "order-4-as-p-negative": negated(little_endian(P)),
    "identity-as-p-plus-1": little_endian(P + 1),
    "identity-as-p-plus-1-negative": negated(little_endian(P + 1)),
}
SMALL_ORDER = CANONICAL_SMALL_ORDER | NON_CANONICAL_SMALL_ORDER


def order_divides_8(encoded: bytes) -> bool:
    """Whether the point `encoded` names (leniently decoded, as a lax verifier would) has 8P = O."""
    point = _decode(encoded)
    for _ in range(3):
        point = _add(point, point)
    return point == IDENTITY


def _decode(encoded: bytes) -> tuple[int, int]:
    number = int.from_bytes(encoded, "little")
    y, negative = (number & ~(1 << 255)) % P, bool(number >> 255)
    u = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(u, (P + 3) // 8, P)
    if x * x % P != u:
        x = x * _SQRT_MINUS_1 % P
    assert x * x % P == u, "not a point on the curve"
    return (P - x if x and (x & 1) != negative else x), y


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P
    return x3, y3
