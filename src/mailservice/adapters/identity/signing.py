"""Making an OpenSSH SSHSIG signature, as `ssh-keygen -Y sign -n <namespace>` prints it."""

from __future__ import annotations

import base64
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailservice.adapters.identity.openssh import KEY_TYPE, parse_public_key
from mailservice.adapters.identity.sigtext import BEGIN, END
from mailservice.adapters.identity.sshsig import MAGIC, SSHSIG_VERSION, SshSig, signed_data
from mailservice.adapters.identity.sshwire import ssh_string

HASH_ALGORITHM = b"sha512"
_ARMOUR_WIDTH = 70


def sign_sshsig(private_key: Ed25519PrivateKey, message: bytes, namespace: str) -> str:
    """The armoured SSHSIG signature of `message` by `private_key` in `namespace`."""
    public_blob = parse_public_key(
        private_key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode("ascii")
    ).blob
    unsigned = SshSig(public_blob, namespace.encode("utf-8"), b"", HASH_ALGORITHM, b"")
    signature = private_key.sign(signed_data(unsigned, message))
    blob = (
        MAGIC
        + struct.pack(">I", SSHSIG_VERSION)
        + ssh_string(unsigned.public_key)
        + ssh_string(unsigned.namespace)
        + ssh_string(unsigned.reserved)
        + ssh_string(unsigned.hash_algorithm)
        + ssh_string(ssh_string(KEY_TYPE.encode("ascii")) + ssh_string(signature))
    )
    return _armour(blob)


def _armour(blob: bytes) -> str:
    encoded = base64.b64encode(blob).decode("ascii")
    lines = [encoded[i : i + _ARMOUR_WIDTH] for i in range(0, len(encoded), _ARMOUR_WIDTH)]
    return "\n".join([BEGIN, *lines, END]) + "\n"
