"""The agent's Ed25519 key: generated here or loaded from an OpenSSH file (`ssh-keygen -t ed25519`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_ssh_private_key,
)

from mailservice.adapters.identity import NAMESPACE, parse_public_key
from mailservice.adapters.identity.signing import sign_sshsig


class KeyFileError(Exception):
    """The key file is missing, unreadable, encrypted, or not an Ed25519 key."""


@dataclass(frozen=True)
class AgentKey:
    """The private key that is the agent's identity: the same key always gets the same mailbox."""

    private: Ed25519PrivateKey
    comment: str = "mailservice-agent"

    @classmethod
    def generate(cls, comment: str = "mailservice-agent") -> AgentKey:
        return cls(Ed25519PrivateKey.generate(), comment)

    @classmethod
    def load(cls, path: str | Path) -> AgentKey:
        """Load an unencrypted OpenSSH private key file; its comment comes from `<path>.pub` if present.

        A program reading mail unattended cannot type a passphrase: protect the file with mode 0600.
        """
        path = Path(path).expanduser()
        try:
            data = path.read_bytes()
        except OSError as error:
            raise KeyFileError(f"cannot read key file {path}: {error.strerror}") from error
        try:
            private = load_ssh_private_key(data, None)
        except TypeError as error:
            raise KeyFileError(f"{path} is encrypted; use a key without a passphrase (mode 0600)") from error
        except (ValueError, UnsupportedAlgorithm) as error:
            raise KeyFileError(f"{path} is not a usable OpenSSH private key: {error}") from error
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFileError(f"{path} is not an Ed25519 key; create one with `ssh-keygen -t ed25519`")
        return cls(private, _comment_of(Path(f"{path}.pub")))

    def save(self, path: str | Path, overwrite: bool = False) -> AgentKey:
        """Write the private key (mode 0600) and `<path>.pub`, both in the format ssh-keygen uses.

        Returns the key itself, so a first run can write `key = AgentKey.generate().save(path)`.
        """
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = self.private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            descriptor = os.open(path, flags, 0o600)
        except FileExistsError as error:
            raise KeyFileError(f"{path} already exists; keep it, it is your mailbox's identity") from error
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        Path(f"{path}.pub").write_text(self.public_line + "\n")
        return self

    @property
    def public_line(self) -> str:
        """`ssh-ed25519 AAAA... comment`, what the service calls `edproof` or `public_key`."""
        line = self.private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        return f"{line} {self.comment}" if self.comment else line

    @property
    def fingerprint(self) -> str:
        """`SHA256:<base64>`, what `ssh-keygen -l -f <key>.pub` prints for the same key."""
        return parse_public_key(self.public_line).ssh_fingerprint

    def sign(self, challenge: str) -> str:
        """The armoured SSHSIG of a challenge, as `ssh-keygen -Y sign -n edproof` makes it."""
        return sign_sshsig(self.private, challenge.encode("ascii"), NAMESPACE)


def require_agent_key(key: object) -> None:
    """A client given a path or a public key line would fail only at its first request; refuse it now."""
    if key is not None and not isinstance(key, AgentKey):
        raise TypeError(
            f"key must be an AgentKey (AgentKey.load(path) or AgentKey.generate()), not {type(key).__name__}"
        )


def _comment_of(public_path: Path) -> str:
    try:
        fields = public_path.read_text().split(maxsplit=2)
    except OSError:
        return ""
    return fields[2].strip() if len(fields) == 3 else ""
