"""Edproof: proving possession of an Ed25519 key by signing a server-issued challenge."""

from __future__ import annotations

from datetime import datetime

from mailservice.adapters.identity.challenge import ChallengeCodec
from mailservice.adapters.identity.openssh import SshEd25519Key, parse_public_key
from mailservice.adapters.identity.sshsig import verify_signature
from mailservice.domain.errors import InvalidProof, ProofRequired
from mailservice.domain.identity import IssuedChallenge, VerifiedKey

NAMESPACE = "edproof"
PROOF_REQUIRED_MESSAGE = (
    'key proof required: POST /v1/auth/challenge with {"public_key": ...}, sign the returned challenge '
    f"with `ssh-keygen -Y sign -n {NAMESPACE} -f <key>` (or a raw Ed25519 signature) and send "
    "edproof, challenge and signature"
)


class EdproofVerifier:
    """Checks key proofs; the caller records the returned nonce to refuse replays."""

    def __init__(self, codec: ChallengeCodec, allow_unsigned: bool = False) -> None:
        self._codec = codec
        self._allow_unsigned = allow_unsigned

    def issue_challenge(self, public_key: str, now: datetime) -> IssuedChallenge:
        return self._codec.issue(parse_public_key(public_key), now)

    def verify(
        self, public_key: str, challenge: str | None, signature: str | None, now: datetime
    ) -> VerifiedKey:
        key = parse_public_key(public_key)
        if challenge is None or signature is None or not challenge.strip() or not signature.strip():
            return self._unsigned(key)
        challenge = challenge.strip()
        checked = self._codec.check(challenge, key, now)
        _verify_challenge_signature(key, challenge, signature)
        return VerifiedKey(key.fingerprint, key.openssh, checked.nonce, checked.expires_at)

    def _unsigned(self, key: SshEd25519Key) -> VerifiedKey:
        if not self._allow_unsigned:
            raise ProofRequired(PROOF_REQUIRED_MESSAGE)
        return VerifiedKey(key.fingerprint, key.openssh, None, None)


def _verify_challenge_signature(key: SshEd25519Key, challenge: str, signature: str) -> None:
    """Accept a signature over the challenge, or over the challenge and one newline.

    `echo "$challenge" | ssh-keygen -Y sign` signs the trailing newline too; the challenge stays bound
    to this key and this nonce either way, so both forms prove the same thing.
    """
    message = challenge.encode("ascii")
    try:
        verify_signature(key, message, signature, NAMESPACE)
    except InvalidProof as exact_failure:
        try:
            verify_signature(key, message + b"\n", signature, NAMESPACE)
        except InvalidProof:
            raise exact_failure from None
