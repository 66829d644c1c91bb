"""Proof of key possession: challenges are issued, verified, and accepted only once."""

from __future__ import annotations

from mailservice.domain.errors import InvalidProof
from mailservice.domain.identity import IssuedChallenge, KeyProof, VerifiedKey
from mailservice.ports import Clock, KeyProofVerifier, UnitOfWorkFactory


class KeyProofs:
    def __init__(self, verifier: KeyProofVerifier, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._verifier = verifier
        self._uow = uow
        self._clock = clock

    def issue_challenge(self, public_key: str) -> IssuedChallenge:
        return self._verifier.issue_challenge(public_key, self._clock.now())

    async def prove(self, proof: KeyProof) -> VerifiedKey:
        """Verify the proof and spend its challenge; a second use of the same challenge is refused."""
        key = self._verifier.verify(proof.public_key, proof.challenge, proof.signature, self._clock.now())
        if key.nonce is None or key.nonce_expires_at is None:
            return key
        async with self._uow() as uow:
            fresh = await uow.challenges.consume(key.nonce, key.nonce_expires_at)
            await uow.commit()
        if not fresh:
            raise InvalidProof("challenge was already used; request a new one")
        return key
