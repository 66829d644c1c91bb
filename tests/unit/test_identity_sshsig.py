from __future__ import annotations

import base64
import hashlib
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key
from hypothesis import assume, given
from hypothesis import strategies as st

from mailservice.adapters.identity import SshEd25519Key, parse_public_key, verify_signature
from mailservice.domain.errors import InvalidProof

SSH_KEYGEN = "/usr/bin/ssh-keygen"
MESSAGE = b"v1.1735732800.0123456789abcdef0123456789abcdef." + b"ab" * 32
NAMESPACE = "edproof"


@dataclass(frozen=True)
class SshKeygenKey:
    path: Path
    key: SshEd25519Key

    def sign(self, message: bytes, *options: str, namespace: str = NAMESPACE) -> str:
        message_path = self.path.parent / "message"
        message_path.write_bytes(message)
        command = [SSH_KEYGEN, "-Y", "sign", "-n", namespace, "-f", str(self.path), *options]
        subprocess.run([*command, str(message_path)], check=True, capture_output=True)
        return message_path.with_suffix(".sig").read_text()

    def private(self) -> Ed25519PrivateKey:
        private = load_ssh_private_key(self.path.read_bytes(), None)
        assert isinstance(private, Ed25519PrivateKey)
        return private


def _keygen(directory: Path) -> SshKeygenKey:
    directory.mkdir()
    path = directory / "key"
    subprocess.run([SSH_KEYGEN, "-t", "ed25519", "-N", "", "-f", str(path), "-q"], check=True)
    return SshKeygenKey(path, parse_public_key(path.with_suffix(".pub").read_text()))


@pytest.fixture
def signer(tmp_path: Path) -> SshKeygenKey:
    return _keygen(tmp_path / "signer")


def _base64_only(armoured: str) -> str:
    lines = armoured.strip().splitlines()
    return "".join(lines[1:-1])


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _sshsig_fields(
    private: Ed25519PrivateKey, message: bytes, namespace: bytes = b"edproof", hash_algorithm: str = "sha512"
) -> list[bytes | int]:
    """SSHSIG as [magic, version, public key, namespace, reserved, hash algorithm, signature blob]."""
    public = private.public_key().public_bytes_raw()
    digest = hashlib.new(hash_algorithm, message).digest()
    algorithm = hash_algorithm.encode()
    signed = b"SSHSIG" + _string(namespace) + _string(b"") + _string(algorithm) + _string(digest)
    signature_blob = _string(b"ssh-ed25519") + _string(private.sign(signed))
    key_blob = _string(b"ssh-ed25519") + _string(public)
    return [b"SSHSIG", 1, key_blob, namespace, b"", algorithm, signature_blob]


def _encode(fields: list[bytes | int]) -> bytes:
    magic, version, *strings = fields
    assert isinstance(magic, bytes) and isinstance(version, int)
    return magic + struct.pack(">I", version) + b"".join(_string(s) for s in strings if isinstance(s, bytes))


def _armour(blob: bytes) -> str:
    encoded = base64.b64encode(blob).decode()
    lines = [encoded[i : i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join(["-----BEGIN SSH SIGNATURE-----", *lines, "-----END SSH SIGNATURE-----"]) + "\n"


def _verify_or_refuse(key: SshEd25519Key, signature: str) -> bool:
    try:
        verify_signature(key, MESSAGE, signature, NAMESPACE)
    except InvalidProof:
        return False
    return True


PRIVATE = Ed25519PrivateKey.generate()
KEY = parse_public_key(PRIVATE.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode())
VALID_FIELDS = _sshsig_fields(PRIVATE, MESSAGE)


def test_armoured_ssh_keygen_signature_is_accepted(signer: SshKeygenKey) -> None:
    # given
    signature = signer.sign(MESSAGE)
    # when / then
    verify_signature(signer.key, MESSAGE, signature, NAMESPACE)


def test_ssh_keygen_signature_stripped_to_base64_is_accepted(signer: SshKeygenKey) -> None:
    # given
    signature = _base64_only(signer.sign(MESSAGE))
    # when / then
    verify_signature(signer.key, MESSAGE, signature, NAMESPACE)


@pytest.mark.parametrize(
    "reshape",
    [
        pytest.param(lambda s: s.replace("\n", "\\n"), id="escaped-newlines"),
        pytest.param(lambda s: s.replace("\n", ""), id="collapsed-newlines"),
        pytest.param(lambda s: s.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda s: "  \n" + s.replace("\n", " \n ") + "\n\n", id="extra-whitespace"),
    ],
)
def test_ssh_keygen_signature_with_mangled_whitespace_is_accepted(
    signer: SshKeygenKey, reshape: Callable[[str], str]
) -> None:
    # given
    signature = reshape(signer.sign(MESSAGE))
    # when / then
    verify_signature(signer.key, MESSAGE, signature, NAMESPACE)


def test_ssh_keygen_signature_with_sha256_hash_is_accepted(signer: SshKeygenKey) -> None:
    # given
    try:
        signature = signer.sign(MESSAGE, "-O", "hashalg=sha256")
    except subprocess.CalledProcessError:
        pytest.skip("this ssh-keygen cannot sign with sha256")
    # when / then
    verify_signature(signer.key, MESSAGE, signature, NAMESPACE)


def test_signature_in_another_namespace_is_refused(signer: SshKeygenKey) -> None:
    # given
    signature = signer.sign(MESSAGE, namespace="other")
    # when / then
    with pytest.raises(InvalidProof, match="signature namespace must be edproof"):
        verify_signature(signer.key, MESSAGE, signature, NAMESPACE)


def test_signature_by_another_key_is_refused(signer: SshKeygenKey, tmp_path: Path) -> None:
    # given
    other = _keygen(tmp_path / "other")
    signature = other.sign(MESSAGE)
    # when / then
    with pytest.raises(InvalidProof, match="signature was made by a different key"):
        verify_signature(signer.key, MESSAGE, signature, NAMESPACE)


def test_signature_of_a_tampered_message_is_refused(signer: SshKeygenKey) -> None:
    # given
    signature = signer.sign(MESSAGE)
    # when / then
    with pytest.raises(InvalidProof, match="invalid signature"):
        verify_signature(signer.key, MESSAGE + b"x", signature, NAMESPACE)


def test_raw_ed25519_signature_is_accepted(signer: SshKeygenKey) -> None:
    # given
    signature = base64.b64encode(signer.private().sign(MESSAGE)).decode()
    # when / then
    verify_signature(signer.key, MESSAGE, signature, NAMESPACE)


def test_raw_ed25519_signature_of_a_tampered_message_is_refused(signer: SshKeygenKey) -> None:
    # given
    signature = base64.b64encode(signer.private().sign(MESSAGE)).decode()
    # when / then
    with pytest.raises(InvalidProof, match="invalid signature"):
        verify_signature(signer.key, MESSAGE[:-1], signature, NAMESPACE)


def test_raw_signature_by_another_key_is_refused() -> None:
    # given
    signature = base64.b64encode(Ed25519PrivateKey.generate().sign(MESSAGE)).decode()
    # when / then
    with pytest.raises(InvalidProof, match="invalid signature"):
        verify_signature(KEY, MESSAGE, signature, NAMESPACE)


def test_unsupported_hash_algorithm_is_refused() -> None:
    # given
    signature = _armour(_encode(_sshsig_fields(PRIVATE, MESSAGE, hash_algorithm="sha1")))
    # when / then
    with pytest.raises(InvalidProof, match="unsupported hash algorithm"):
        verify_signature(KEY, MESSAGE, signature, NAMESPACE)


def test_signature_built_to_the_sshsig_format_is_accepted() -> None:
    # when / then
    verify_signature(KEY, MESSAGE, _armour(_encode(VALID_FIELDS)), NAMESPACE)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param(base64.b64encode(bytes(63)).decode(), id="short-raw"),
        pytest.param("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n", id="missing-end"),
        pytest.param("junk" + _armour(_encode(VALID_FIELDS)), id="text-before-armour"),
        pytest.param(_armour(bytes(64)), id="armoured-raw"),
        pytest.param(_armour(_encode(VALID_FIELDS) + b"\x00"), id="trailing-bytes"),
        pytest.param(_armour(_encode([*VALID_FIELDS[:1], 2, *VALID_FIELDS[2:]])), id="version-2"),
    ],
)
def test_malformed_signature_is_refused(signature: str) -> None:
    # when / then
    with pytest.raises(InvalidProof):
        verify_signature(KEY, MESSAGE, signature, NAMESPACE)


def test_over_long_signature_text_is_refused() -> None:
    # given
    signature = _armour(_encode(VALID_FIELDS)) + " " * 4096
    # when / then
    with pytest.raises(InvalidProof, match="signature too long"):
        verify_signature(KEY, MESSAGE, signature, NAMESPACE)


def test_over_long_base64_is_refused() -> None:
    # given
    signature = base64.b64encode(bytes(769)).decode()
    # when / then
    with pytest.raises(InvalidProof, match="signature too long"):
        verify_signature(KEY, MESSAGE, signature, NAMESPACE)


@given(st.text(max_size=5000))
def test_arbitrary_text_is_refused_with_invalid_proof(signature: str) -> None:
    assert not _verify_or_refuse(KEY, signature)


@given(st.binary(max_size=800), st.booleans())
def test_arbitrary_bytes_are_refused_with_invalid_proof(data: bytes, armoured: bool) -> None:
    signature = _armour(data) if armoured else base64.b64encode(data).decode()
    assert not _verify_or_refuse(KEY, signature)


@given(st.integers(0, 6), st.binary(max_size=120), st.integers(0, 2**32 - 1))
def test_sshsig_with_any_field_changed_is_refused_with_invalid_proof(
    index: int, replacement: bytes, version: int
) -> None:
    # given
    fields = list(VALID_FIELDS)
    fields[index] = version if index == 1 else replacement
    assume(fields != VALID_FIELDS)
    # when / then
    assert not _verify_or_refuse(KEY, _armour(_encode(fields)))


@given(st.data())
def test_sshsig_with_a_flipped_byte_is_refused_with_invalid_proof(data: st.DataObject) -> None:
    # given
    blob = bytearray(_encode(VALID_FIELDS))
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] ^= data.draw(st.integers(1, 255))
    # when / then
    assert not _verify_or_refuse(KEY, _armour(bytes(blob)))


@given(st.data())
def test_truncated_or_extended_sshsig_is_refused_with_invalid_proof(data: st.DataObject) -> None:
    # given
    blob = _encode(VALID_FIELDS)
    cut = data.draw(st.integers(0, len(blob) - 1))
    extra = data.draw(st.binary(min_size=1, max_size=20))
    # when / then
    assert not _verify_or_refuse(KEY, _armour(blob[:cut]))
    assert not _verify_or_refuse(KEY, _armour(blob + extra))
