"""Turning a pasted signature (armoured, stripped to base64, or with escaped newlines) into bytes."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from mailservice.domain.errors import InvalidProof

BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
MAX_TEXT_CHARS = 4096
MAX_BASE64_CHARS = 1024


@dataclass(frozen=True)
class SignatureBytes:
    data: bytes
    armoured: bool


def decode_signature_text(text: str) -> SignatureBytes:
    """Strip armour and whitespace and decode the base64; raise InvalidProof if that fails."""
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidProof("signature too long")
    # A backslash is never base64, so `\n` and `\r` here can only be escaped line breaks.
    text = text.replace("\\r", "\n").replace("\\n", "\n")
    armoured = BEGIN in text
    body = _unarmour(text) if armoured else text
    compact = "".join(body.split())
    if len(compact) > MAX_BASE64_CHARS:
        raise InvalidProof("signature too long")
    try:
        data = base64.b64decode(compact, validate=True)
    except ValueError as exc:
        raise InvalidProof("malformed signature: not valid base64") from exc
    return SignatureBytes(data=data, armoured=armoured)


def _unarmour(text: str) -> str:
    before, _, rest = text.partition(BEGIN)
    body, found_end, after = rest.partition(END)
    if not found_end:
        raise InvalidProof(f"malformed signature: missing {END}")
    if before.strip() or after.strip():
        raise InvalidProof("malformed signature: text outside the armour")
    return body
