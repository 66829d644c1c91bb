"""Agent keys for tests: generated with `cryptography`, or with the real `ssh-keygen`."""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


@dataclass(frozen=True)
class AgentKey:
    """An Ed25519 key held in memory, signing raw Ed25519 signatures."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> AgentKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_line(self) -> str:
        return (
            self.private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
            + " agent@test"
        )

    def sign(self, challenge: str) -> str:
        return base64.b64encode(self.private.sign(challenge.encode("ascii"))).decode()


@dataclass(frozen=True)
class SshKeygenKey:
    """A key file made by `ssh-keygen`, signing SSHSIG signatures the way an agent's shell would."""

    path: Path

    @classmethod
    def generate(cls, directory: Path, name: str = "id_ed25519") -> SshKeygenKey:
        path = directory / name
        subprocess.run(
            [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "agent", "-f", str(path)], check=True
        )
        return cls(path)

    @property
    def public_line(self) -> str:
        return self.path.with_suffix(".pub").read_text().strip()

    def sign(self, challenge: str, namespace: str = "edproof") -> str:
        result = subprocess.run(
            [SSH_KEYGEN, "-Y", "sign", "-n", namespace, "-f", str(self.path)],
            input=challenge.encode("ascii"),
            capture_output=True,
            check=True,
        )
        return result.stdout.decode("ascii")
