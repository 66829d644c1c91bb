from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailservice.adapters.identity import ChallengeCodec, EdproofVerifier, parse_public_key
from mailservice.domain.errors import InvalidProof, InvalidPublicKey, ProofRequired

SSH_KEYGEN = "/usr/bin/ssh-keygen"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
PRIVATE = Ed25519PrivateKey.generate()
PUBLIC_LINE = PRIVATE.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def _verifier(allow_unsigned: bool = False) -> EdproofVerifier:
    return EdproofVerifier(ChallengeCodec(b"k" * 32), allow_unsigned=allow_unsigned)


def _raw_signature(challenge: str) -> str:
    return base64.b64encode(PRIVATE.sign(challenge.encode())).decode()


def test_challenge_signed_with_ssh_keygen_proves_the_key(tmp_path: Path) -> None:
    # given
    key_path = tmp_path / "key"
    subprocess.run([SSH_KEYGEN, "-t", "ed25519", "-N", "", "-C", "me", "-f", str(key_path), "-q"], check=True)
    public_line = key_path.with_suffix(".pub").read_text()
    verifier = _verifier()
    challenge = verifier.issue_challenge(public_line, NOW).text
    (tmp_path / "challenge").write_text(challenge)
    sign = [SSH_KEYGEN, "-Y", "sign", "-n", "edproof", "-f", str(key_path), str(tmp_path / "challenge")]
    subprocess.run(sign, check=True, capture_output=True)
    signature = (tmp_path / "challenge.sig").read_text()
    # when
    verified = verifier.verify(public_line, challenge, signature, NOW + timedelta(seconds=10))
    # then
    key = parse_public_key(public_line)
    assert verified.fingerprint == key.fingerprint
    assert verified.public_key == key.openssh
    assert verified.nonce == challenge.split(".")[2]
    assert verified.nonce_expires_at == NOW + timedelta(seconds=35)


def test_challenge_with_a_raw_signature_proves_the_key() -> None:
    # given
    verifier = _verifier()
    challenge = verifier.issue_challenge(PUBLIC_LINE, NOW).text
    # when
    verified = verifier.verify(PUBLIC_LINE + " comment", f" {challenge}\n", _raw_signature(challenge), NOW)
    # then
    assert verified.public_key == PUBLIC_LINE
    assert verified.nonce == challenge.split(".")[2]


@pytest.mark.parametrize(
    ("challenge", "signature"), [(None, None), ("v1.x", None), (None, "sig"), ("  ", "sig")]
)
def test_missing_proof_is_required_and_explains_how_to_get_a_challenge(
    challenge: str | None, signature: str | None
) -> None:
    # when / then
    with pytest.raises(ProofRequired, match="/v1/auth/challenge") as raised:
        _verifier().verify(PUBLIC_LINE, challenge, signature, NOW)
    assert "ssh-keygen -Y sign -n edproof" in raised.value.message


def test_key_without_proof_is_accepted_when_unsigned_keys_are_allowed() -> None:
    # when
    verified = _verifier(allow_unsigned=True).verify(f"  {PUBLIC_LINE} laptop\n", None, "", NOW)
    # then
    assert verified.public_key == PUBLIC_LINE
    assert verified.fingerprint == parse_public_key(PUBLIC_LINE).fingerprint
    assert verified.nonce is None
    assert verified.nonce_expires_at is None


def test_supplied_proof_is_still_checked_when_unsigned_keys_are_allowed() -> None:
    # given
    verifier = _verifier(allow_unsigned=True)
    challenge = verifier.issue_challenge(PUBLIC_LINE, NOW).text
    # when / then
    with pytest.raises(InvalidProof, match="invalid signature"):
        verifier.verify(PUBLIC_LINE, challenge, _raw_signature(challenge + "x"), NOW)


def test_signature_over_another_challenge_is_refused() -> None:
    # given
    verifier = _verifier()
    challenge = verifier.issue_challenge(PUBLIC_LINE, NOW).text
    other = verifier.issue_challenge(PUBLIC_LINE, NOW).text
    # when / then
    with pytest.raises(InvalidProof, match="invalid signature"):
        verifier.verify(PUBLIC_LINE, challenge, _raw_signature(other), NOW)


def test_expired_challenge_is_refused_even_with_a_valid_signature() -> None:
    # given
    verifier = _verifier()
    challenge = verifier.issue_challenge(PUBLIC_LINE, NOW).text
    # when / then
    with pytest.raises(InvalidProof, match="challenge expired"):
        verifier.verify(PUBLIC_LINE, challenge, _raw_signature(challenge), NOW + timedelta(seconds=36))


def test_challenge_issued_for_another_key_is_refused() -> None:
    # given
    verifier = _verifier()
    other_private = Ed25519PrivateKey.generate()
    other_line = other_private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    challenge = verifier.issue_challenge(other_line, NOW).text
    # when / then
    with pytest.raises(InvalidProof, match="not issued by this server for this key"):
        verifier.verify(PUBLIC_LINE, challenge, _raw_signature(challenge), NOW)


def test_invalid_key_is_refused_when_issuing_a_challenge() -> None:
    # when / then
    with pytest.raises(InvalidPublicKey):
        _verifier().issue_challenge("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", NOW)


def test_invalid_key_is_refused_before_the_proof_is_considered() -> None:
    # when / then
    with pytest.raises(InvalidPublicKey):
        _verifier(allow_unsigned=True).verify("ssh-ed25519 AAAA", None, None, NOW)
