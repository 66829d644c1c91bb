"""DKIM signing keys made for a test (RSA 1024 and Ed25519), their DNS records, and signing with dkimpy."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


@dataclass(frozen=True)
class DkimKey:
    selector: str
    algorithm: str
    private_key: bytes
    dns_record: str

    @classmethod
    def rsa(cls, selector: str, bits: int = 1024) -> DkimKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(selector, "rsa-sha256", private, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}")

    @classmethod
    def ed25519(cls, selector: str) -> DkimKey:
        key = ed25519.Ed25519PrivateKey.generate()
        seed = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        record = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
        return cls(selector, "ed25519-sha256", base64.b64encode(seed), record)

    def dns_name(self, domain: str) -> str:
        return f"{self.selector}._domainkey.{domain}"

    def sign(self, raw: bytes, domain: str) -> bytes:
        """`raw` with this key's DKIM-Signature prepended."""
        signature: bytes = dkim.sign(
            raw,
            self.selector.encode(),
            domain.encode(),
            self.private_key,
            include_headers=SIGNED_HEADERS,
            signature_algorithm=self.algorithm.encode(),
        )
        return signature + raw

    def arc_seal(self, raw: bytes, domain: str, authserv_id: str) -> bytes:
        """`raw` with the next ARC set prepended (it needs an Authentication-Results of `authserv_id`)."""
        headers: list[bytes] = dkim.arc_sign(
            raw, self.selector.encode(), domain.encode(), self.private_key, authserv_id.encode()
        )
        return b"".join(headers) + raw
