"""Text sealed at rest with AES-GCM under a key derived from SECRET_KEY.

A queued e-mail can carry a live secret (a recovery link is one); sealed, a copy of the database holds
nothing usable without the secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "sealed:v1:"
_KEY_PURPOSE = b"mailservice sealed text v1"
_NONCE_BYTES = 12


class UnsealError(ValueError):
    """Sealed text that this key cannot open: another SECRET_KEY sealed it, or it was altered."""


class TextSealer:
    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(hmac.new(secret, _KEY_PURPOSE, hashlib.sha256).digest())

    def seal(self, text: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), PREFIX.encode("ascii"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str) -> str:
        """The text `seal` was given; text stored before sealing began is returned as it is."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            data = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            opened = self._aead.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], PREFIX.encode("ascii"))
        except (InvalidTag, ValueError) as error:
            raise UnsealError("sealed text cannot be opened with this SECRET_KEY") from error
        return opened.decode("utf-8")
