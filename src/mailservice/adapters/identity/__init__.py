"""Key identity: OpenSSH Ed25519 keys, signatures and the edproof challenge flow."""

from __future__ import annotations

from mailservice.adapters.identity.challenge import ChallengeCodec, CheckedChallenge
from mailservice.adapters.identity.edproof import NAMESPACE, PROOF_REQUIRED_MESSAGE, EdproofVerifier
from mailservice.adapters.identity.openssh import SshEd25519Key, parse_public_key
from mailservice.adapters.identity.sshsig import verify_signature

__all__ = [
    "NAMESPACE",
    "PROOF_REQUIRED_MESSAGE",
    "ChallengeCodec",
    "CheckedChallenge",
    "EdproofVerifier",
    "SshEd25519Key",
    "parse_public_key",
    "verify_signature",
]
