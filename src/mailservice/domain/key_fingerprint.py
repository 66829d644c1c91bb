"""Key fingerprints in the two spellings the service knows.

People and agents see ssh-keygen's form: `SHA256:` and the unpadded base64 of the SHA-256 of the key's
SSH wire blob. The store keys mailboxes by the same hash written `sha256:` and lowercase hex, the form
earlier versions also printed. Both spellings are read; only ssh-keygen's is ever shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from mailservice.domain.errors import InvalidInput

SSH_PREFIX = "SHA256:"
STORED_PREFIX = "sha256:"
_DIGEST_BYTES = 32
_SSH_FORM_CHARS = 43  # 32 bytes in base64 without its one "=" of padding


def stored_fingerprint(blob: bytes) -> str:
    """The store's key for a public key blob: `sha256:<hex>`."""
    return STORED_PREFIX + hashlib.sha256(blob).hexdigest()


def ssh_fingerprint(fingerprint: str) -> str:
    """Either spelling -> ssh-keygen's `SHA256:<base64 without padding>`."""
    return SSH_PREFIX + base64.b64encode(_digest(fingerprint)).decode("ascii").rstrip("=")


def _digest(fingerprint: str) -> bytes:
    text = fingerprint.strip()
    try:
        if text.startswith(SSH_PREFIX) and len(text) == len(SSH_PREFIX) + _SSH_FORM_CHARS:
            return base64.b64decode(text.removeprefix(SSH_PREFIX) + "=", validate=True)
        if text.startswith(STORED_PREFIX) and len(text) == len(STORED_PREFIX) + 2 * _DIGEST_BYTES:
            return bytes.fromhex(text.removeprefix(STORED_PREFIX))
    except (ValueError, binascii.Error) as error:
        raise _not_a_fingerprint(text) from error
    raise _not_a_fingerprint(text)


def _not_a_fingerprint(text: str) -> InvalidInput:
    return InvalidInput(
        f"not a key fingerprint: {text[:80]!r} (expected SHA256:<base64> as ssh-keygen -l prints)"
    )
