"""Verifying an Ed25519 signature: raw, or in OpenSSH's SSHSIG format (`ssh-keygen -Y sign`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from mailservice.adapters.identity.ed25519_strict import check_public_key, check_signature
from mailservice.adapters.identity.openssh import KEY_TYPE, SshEd25519Key
from mailservice.adapters.identity.sigtext import decode_signature_text
from mailservice.adapters.identity.sshwire import WireError, WireReader, ssh_string
from mailservice.domain.errors import InvalidProof

MAGIC = b"SSHSIG"
SSHSIG_VERSION = 1
HASH_ALGORITHMS = frozenset({b"sha512", b"sha256"})
_RAW_SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class SshSig:
    public_key: bytes
    namespace: bytes
    reserved: bytes
    hash_algorithm: bytes
    signature: bytes


def verify_signature(key: SshEd25519Key, message: bytes, signature: str, namespace: str) -> None:
    """Raise InvalidProof unless `signature` is `key`'s signature of `message` (in `namespace` for SSHSIG)."""
    decoded = decode_signature_text(signature)
    if not decoded.armoured and len(decoded.data) == _RAW_SIGNATURE_BYTES:
        _verify_ed25519(key, decoded.data, message)
        return
    sshsig = parse_sshsig(decoded.data)
    _check_fields(sshsig, key, namespace)
    _verify_ed25519(key, sshsig.signature, signed_data(sshsig, message))


def parse_sshsig(blob: bytes) -> SshSig:
    reader = WireReader(blob)
    try:
        if reader.read_bytes(len(MAGIC)) != MAGIC:
            raise InvalidProof("malformed signature: not an SSH signature")
        if reader.read_uint32() != SSHSIG_VERSION:
            raise InvalidProof("unsupported signature version")
        sshsig = SshSig(
            public_key=reader.read_string(),
            namespace=reader.read_string(),
            reserved=reader.read_string(),
            hash_algorithm=reader.read_string(),
            signature=_raw_signature(reader.read_string()),
        )
        reader.expect_end()
    except WireError as exc:
        raise InvalidProof(f"malformed signature: {exc}") from exc
    return sshsig


def signed_data(sshsig: SshSig, message: bytes) -> bytes:
    """What the Ed25519 signature covers; `sshsig.hash_algorithm` must be one of HASH_ALGORITHMS."""
    digest = hashlib.new(sshsig.hash_algorithm.decode("ascii"), message).digest()
    return (
        MAGIC
        + ssh_string(sshsig.namespace)
        + ssh_string(sshsig.reserved)
        + ssh_string(sshsig.hash_algorithm)
        + ssh_string(digest)
    )


def _raw_signature(signature_blob: bytes) -> bytes:
    reader = WireReader(signature_blob)
    signature_type = reader.read_string()
    raw = reader.read_string()
    reader.expect_end()
    if signature_type != KEY_TYPE.encode("ascii") or len(raw) != _RAW_SIGNATURE_BYTES:
        raise InvalidProof("malformed signature: not an Ed25519 signature")
    return raw


def _check_fields(sshsig: SshSig, key: SshEd25519Key, namespace: str) -> None:
    if sshsig.public_key != key.blob:
        raise InvalidProof("signature was made by a different key")
    if sshsig.namespace != namespace.encode("utf-8"):
        raise InvalidProof(f"signature namespace must be {namespace}")
    if sshsig.hash_algorithm not in HASH_ALGORITHMS:
        raise InvalidProof("unsupported hash algorithm")


def _verify_ed25519(key: SshEd25519Key, signature: bytes, data: bytes) -> None:
    check_public_key(key.raw)
    check_signature(signature)
    try:
        key.to_cryptography().verify(signature, data)
    except (InvalidSignature, ValueError) as exc:
        raise InvalidProof("invalid signature") from exc
