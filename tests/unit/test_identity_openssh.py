from __future__ import annotations

import base64
import contextlib
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from mailservice.adapters.identity import SshEd25519Key, parse_public_key
from mailservice.domain.errors import InvalidPublicKey
from mailservice.domain.key_fingerprint import ssh_fingerprint
from tests.support.ed25519_points import SMALL_ORDER

SSH_KEYGEN = "/usr/bin/ssh-keygen"


def _keygen(directory: Path, *args: str) -> Path:
    path = directory / "key"
    subprocess.run([SSH_KEYGEN, *args, "-N", "", "-C", "agent@example", "-f", str(path), "-q"], check=True)
    return path


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _line(blob: bytes, key_type: str = "ssh-ed25519") -> str:
    return f"{key_type} {base64.b64encode(blob).decode()}"


def _cryptography_line() -> tuple[bytes, str]:
    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes_raw(), public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def _weak_point(raw: bytes) -> bool:
    """Small order or not canonical; test_identity_ed25519_strict.py shows these are refused."""
    y = int.from_bytes(raw, "little") & ~(1 << 255)
    return raw in SMALL_ORDER.values() or y >= 2**255 - 19


def _parses_or_refuses(text: str) -> None:
    with contextlib.suppress(InvalidPublicKey):
        parse_public_key(text)


def test_key_generated_by_ssh_keygen_is_parsed_with_its_comment(tmp_path: Path) -> None:
    # given
    line = (_keygen(tmp_path, "-t", "ed25519").with_suffix(".pub")).read_text()
    # when
    key = parse_public_key(line)
    # then
    assert key.comment == "agent@example"
    assert len(key.raw) == 32
    assert key.openssh == " ".join(line.split()[:2])


def test_fingerprint_matches_ssh_keygen_sha256_fingerprint(tmp_path: Path) -> None:
    # given
    public_path = _keygen(tmp_path, "-t", "ed25519").with_suffix(".pub")
    listed = subprocess.run(
        [SSH_KEYGEN, "-lf", str(public_path), "-E", "sha256"], check=True, capture_output=True, text=True
    ).stdout
    shown = listed.split()[1]
    encoded = shown.removeprefix("SHA256:")
    expected = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).hex()
    # when
    key = parse_public_key(public_path.read_text())
    # then
    assert key.ssh_fingerprint == shown
    assert key.fingerprint == "sha256:" + expected
    assert ssh_fingerprint(key.fingerprint) == ssh_fingerprint(shown) == shown


def test_rsa_key_is_refused_as_unsupported(tmp_path: Path) -> None:
    # given
    line = _keygen(tmp_path, "-t", "rsa", "-b", "2048").with_suffix(".pub").read_text()
    # when / then
    with pytest.raises(InvalidPublicKey, match="only ssh-ed25519 keys are supported"):
        parse_public_key(line)


@pytest.mark.parametrize(
    "key_type", ["ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com", "ssh-dss", "SSH-ED25519"]
)
def test_other_key_types_are_refused_as_unsupported(key_type: str) -> None:
    # given
    line = _line(_string(key_type.encode()) + _string(bytes(32)), key_type)
    # when / then
    with pytest.raises(InvalidPublicKey, match="only ssh-ed25519 keys are supported"):
        parse_public_key(line)


def test_surrounding_whitespace_and_missing_comment_are_accepted() -> None:
    # given
    raw, line = _cryptography_line()
    # when
    key = parse_public_key(f"\n  {line}\t\r\n")
    # then
    assert key.raw == raw
    assert key.comment == ""
    assert key.openssh == line


def test_comment_is_kept_but_not_part_of_the_canonical_line() -> None:
    # given
    _, line = _cryptography_line()
    # when
    key = parse_public_key(f"{line}  my laptop key ")
    # then
    assert key.comment == "my laptop key"
    assert key.openssh == line


def test_key_converts_to_a_cryptography_key_that_verifies_its_signatures() -> None:
    # given
    private = Ed25519PrivateKey.generate()
    line = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    # when
    public = parse_public_key(line).to_cryptography()
    # then
    public.verify(private.sign(b"message"), b"message")


GOOD_BLOB = _string(b"ssh-ed25519") + _string(bytes(range(32)))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n", id="blank"),
        pytest.param("ssh-ed25519", id="no-key-data"),
        pytest.param("ssh-ed25519 not*base64", id="bad-base64"),
        pytest.param(_line(GOOD_BLOB)[:-4], id="bad-padding"),
        pytest.param(_line(GOOD_BLOB[:-1]), id="truncated-blob"),
        pytest.param(_line(GOOD_BLOB[:3]), id="truncated-length"),
        pytest.param(_line(GOOD_BLOB + b"\x00"), id="trailing-bytes"),
        pytest.param(_line(_string(b"ssh-ed25518") + _string(bytes(32))), id="wrong-inner-type"),
        pytest.param(_line(_string(b"ssh-rsa") + _string(bytes(32))), id="type-mismatch"),
        pytest.param(_line(_string(b"ssh-ed25519") + _string(bytes(31))), id="short-key"),
        pytest.param(_line(_string(b"ssh-ed25519") + _string(bytes(33))), id="long-key"),
        pytest.param(_line(GOOD_BLOB) + " one\ntwo", id="multi-line"),
    ],
)
def test_malformed_key_is_refused(text: str) -> None:
    # when / then
    with pytest.raises(InvalidPublicKey, match="malformed public key"):
        parse_public_key(text)


def test_over_long_input_is_refused() -> None:
    # given
    _, line = _cryptography_line()
    # when / then
    with pytest.raises(InvalidPublicKey, match="too long"):
        parse_public_key(line + " " + "c" * 8192)


@given(st.text())
def test_arbitrary_text_is_parsed_or_refused_with_invalid_public_key(text: str) -> None:
    _parses_or_refuses(text)


@given(st.binary(max_size=200))
def test_arbitrary_blob_is_parsed_or_refused_with_invalid_public_key(blob: bytes) -> None:
    _parses_or_refuses(_line(blob))


@given(st.binary(max_size=20), st.binary(max_size=40), st.binary(max_size=4))
def test_structured_blob_is_parsed_only_when_exactly_an_ed25519_key(
    key_type: bytes, raw: bytes, trailing: bytes
) -> None:
    # given
    blob = _string(key_type) + _string(raw) + trailing
    valid = key_type == b"ssh-ed25519" and len(raw) == 32 and not trailing and not _weak_point(raw)
    # when
    try:
        key: SshEd25519Key | None = parse_public_key(_line(blob))
    except InvalidPublicKey:
        key = None
    # then
    assert (key is not None) == valid


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))))
def test_generated_key_with_any_comment_parses_back_to_the_same_key(comment: str) -> None:
    # given
    raw, line = _cryptography_line()
    # when
    key = parse_public_key(f"{line} {comment}")
    # then
    assert key.raw == raw
    assert key.openssh == line
    assert key.comment == comment.strip()
