"""Parsing an OpenSSH `ssh-ed25519` public key line."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mailservice.adapters.identity.ed25519_strict import check_public_key
from mailservice.adapters.identity.sshwire import WireError, WireReader
from mailservice.domain.errors import InvalidPublicKey
from mailservice.domain.key_fingerprint import ssh_fingerprint, stored_fingerprint

KEY_TYPE = "ssh-ed25519"
MAX_LINE_CHARS = 8 * 1024
_RAW_KEY_BYTES = 32


@dataclass(frozen=True)
class SshEd25519Key:
    """An Ed25519 public key: its SSH wire blob, the raw 32 bytes and the line's comment."""

    blob: bytes
    raw: bytes
    comment: str = ""

    @property
    def fingerprint(self) -> str:
        """The store's key for this public key (`sha256:<hex>`); shown as `ssh_fingerprint`."""
        return stored_fingerprint(self.blob)

    @property
    def ssh_fingerprint(self) -> str:
        """`SHA256:<base64>`, exactly as `ssh-keygen -l` prints it."""
        return ssh_fingerprint(self.fingerprint)

    @property
    def openssh(self) -> str:
        """The canonical line, without the comment."""
        return f"{KEY_TYPE} {base64.b64encode(self.blob).decode('ascii')}"

    def to_cryptography(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.raw)


def parse_public_key(text: str) -> SshEd25519Key:
    """Parse `ssh-ed25519 <base64> [comment]`; raise InvalidPublicKey for anything else."""
    if len(text) > MAX_LINE_CHARS:
        raise InvalidPublicKey("public key is too long")
    fields = text.split(maxsplit=2)
    if not fields:
        raise _malformed("empty input")
    if fields[0] != KEY_TYPE:
        raise InvalidPublicKey("only ssh-ed25519 keys are supported")
    if len(fields) < 2:
        raise _malformed("missing key data")
    comment = fields[2].strip() if len(fields) == 3 else ""
    if "\n" in comment or "\r" in comment:
        raise _malformed("expected a single line")
    blob = _decode_base64(fields[1])
    return SshEd25519Key(blob=blob, raw=_raw_key(blob), comment=comment)


def _decode_base64(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise _malformed("key data is not valid base64") from exc


def _raw_key(blob: bytes) -> bytes:
    reader = WireReader(blob)
    try:
        key_type = reader.read_string()
        raw = reader.read_string()
        reader.expect_end()
    except WireError as exc:
        raise _malformed(str(exc)) from exc
    if key_type != KEY_TYPE.encode("ascii"):
        raise _malformed("key type in the line does not match the key data")
    if len(raw) != _RAW_KEY_BYTES:
        raise _malformed("an Ed25519 key is 32 bytes")
    check_public_key(raw)
    return raw


def _malformed(reason: str) -> InvalidPublicKey:
    return InvalidPublicKey(f"malformed public key: {reason}")
