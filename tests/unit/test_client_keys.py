"""The client's keys: OpenSSH files both ways, and signatures that the service and ssh-keygen accept."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mailservice.adapters.identity import NAMESPACE, parse_public_key, verify_signature
from mailservice.client import AgentKey, AsyncMailClient, KeyFileError, MailClient
from tests.support.keys import SSH_KEYGEN, SshKeygenKey

CHALLENGE = "v1.1735732800.0123456789abcdef0123456789abcdef." + "ab" * 32


def test_a_saved_key_loads_back_as_the_same_identity(tmp_path: Path) -> None:
    key = AgentKey.generate(comment="my-agent")

    path = tmp_path / "keys" / "agent_key"
    key.save(path)
    loaded = AgentKey.load(path)

    assert loaded.public_line == key.public_line
    assert loaded.public_line.endswith(" my-agent")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert Path(f"{path}.pub").read_text().strip() == key.public_line


def test_saving_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "agent_key"
    AgentKey.generate().save(path)
    before = path.read_bytes()

    with pytest.raises(KeyFileError, match="already exists"):
        AgentKey.generate().save(path)
    assert path.read_bytes() == before


def test_saving_a_new_key_returns_the_key_so_the_first_run_can_use_it_at_once(tmp_path: Path) -> None:
    key = AgentKey.generate().save(tmp_path / "agent_key")

    assert isinstance(key, AgentKey)
    assert key.public_line == AgentKey.load(tmp_path / "agent_key").public_line


@pytest.mark.parametrize("client_class", [MailClient, AsyncMailClient])
@pytest.mark.parametrize("wrong_key", [Path("agent_key"), "agent_key", b"ssh-ed25519 AAAA"])
def test_a_client_given_something_other_than_an_agent_key_refuses_it_at_once(
    client_class: type[MailClient] | type[AsyncMailClient], wrong_key: object
) -> None:
    with pytest.raises(TypeError, match=r"key must be an AgentKey \(AgentKey.load\(path\)"):
        client_class("http://mail.test", key=wrong_key)  # type: ignore[arg-type]


def test_a_key_made_by_ssh_keygen_loads_with_its_public_line(tmp_path: Path) -> None:
    made = SshKeygenKey.generate(tmp_path)

    loaded = AgentKey.load(made.path)

    assert loaded.public_line == made.public_line


def test_an_encrypted_key_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "encrypted_key"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "s3cret", "-f", str(path)], check=True)

    with pytest.raises(KeyFileError, match="encrypted"):
        AgentKey.load(path)


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ecdsa_key"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ecdsa", "-N", "", "-f", str(path)], check=True)

    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        AgentKey.load(path)


def test_a_missing_key_file_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        AgentKey.load(tmp_path / "absent")


def test_its_signature_verifies_as_an_edproof_sshsig(tmp_path: Path) -> None:
    key = AgentKey.generate()

    signature = key.sign(CHALLENGE)

    assert signature.startswith("-----BEGIN SSH SIGNATURE-----\n")
    verify_signature(parse_public_key(key.public_line), CHALLENGE.encode(), signature, NAMESPACE)


def test_ssh_keygen_verifies_its_signature(tmp_path: Path) -> None:
    key = AgentKey.generate()
    (tmp_path / "allowed").write_text(f"agent@test {key.public_line}\n")
    (tmp_path / "challenge.sig").write_text(key.sign(CHALLENGE))

    allowed, signature_file = str(tmp_path / "allowed"), str(tmp_path / "challenge.sig")
    verified = subprocess.run(
        [
            SSH_KEYGEN,
            "-Y",
            "verify",
            "-f",
            allowed,
            "-I",
            "agent@test",
            "-n",
            NAMESPACE,
            "-s",
            signature_file,
        ],
        input=CHALLENGE.encode(),
        capture_output=True,
    )

    assert verified.returncode == 0, verified.stderr.decode()
