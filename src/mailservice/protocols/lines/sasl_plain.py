"""SASL PLAIN (RFC 4616) as IMAP AUTHENTICATE and POP3 AUTH receive it: base64 of
`authzid NUL authcid NUL password`; an authorization identity other than the login is refused."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


class InvalidBase64(ValueError):
    pass


class PlainRefused(ValueError):
    """Well-formed base64 that is not a PLAIN response we accept."""


@dataclass(frozen=True)
class PlainCredentials:
    username: str
    password: str


def decode_plain(response: bytes) -> PlainCredentials:
    try:
        decoded = base64.b64decode(response, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64() from None
    pieces = decoded.split(b"\x00")
    if len(pieces) != 3 or (pieces[0] and pieces[0] != pieces[1]):
        raise PlainRefused()
    return PlainCredentials(pieces[1].decode("utf-8", "replace"), pieces[2].decode("utf-8", "replace"))
