"""`mailservice smoke-test` against a real server: it claims, prints the payment link, waits for payment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.server import MAILSERVICE, ServerProcess, SharedServers

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_server(shared_servers: SharedServers) -> ServerProcess:
    """The smoke test speaks HTTP only; one backend is enough."""
    return shared_servers.get("sqlite")


def smoke_test(base_url: str, work_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            MAILSERVICE,
            "smoke-test",
            "--base-url",
            base_url,
            "--billing-email",
            "ops@example.com",
            "--work-dir",
            str(work_dir),
            "--poll-interval",
            "0.1",
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_smoke_test_waits_for_payment_then_reports_imap_access(
    sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    server = sqlite_server
    run = smoke_test(server.base_url, tmp_path / "smoke")
    assert run.stdout is not None
    seen: list[str] = []
    payment_url = None
    for line in run.stdout:
        seen.append(line)
        if "/mock/pay/mock_" in line:
            payment_url = line.strip()
        if "waiting_payment" in line and payment_url is not None:
            # Pay only once the smoke test has seen the mailbox unpaid, so both steps are shown.
            assert httpx.get(payment_url, timeout=10).status_code == 200
            payment_url = None
    assert run.wait(timeout=60) == 0, "".join(seen)

    output = "".join(seen)
    for step in (
        "[1/5] GET /healthz",
        "[2/5] generated a new key",
        "[3/5] POST /v1/mailboxes/claim",
        "[4/5] payment URL",
        "[5/5] POST /v1/access/resolve",
        "smoke test passed",
    ):
        assert step in output
    assert "waiting_payment" in output
    assert (tmp_path / "smoke" / "identity").stat().st_mode & 0o777 == 0o600

    again = smoke_test(server.base_url, tmp_path / "smoke")
    rerun_output, _ = again.communicate(timeout=60)
    assert again.returncode == 0, rerun_output
    assert "[2/5] using the key" in rerun_output
    assert "already paid" in rerun_output


def test_smoke_test_fails_with_exit_1_when_the_server_is_unreachable(tmp_path: Path) -> None:
    run = smoke_test(f"http://127.0.0.1:{free_port()}", tmp_path)
    output, _ = run.communicate(timeout=60)

    assert run.returncode == 1
    assert "smoke test failed" in output


# The options of the original's ops/smoke-test-mailbox.sh, each mapped to ours.


@pytest.fixture
def shared_server(sqlite_server: ServerProcess) -> ServerProcess:
    """These runs never pay, so one server serves them all."""
    return sqlite_server


def run_unpaid(
    server: ServerProcess, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A run that gives up almost at once, since nobody pays."""
    return subprocess.run(
        [
            MAILSERVICE,
            "smoke-test",
            "--base-url",
            server.base_url,
            "--billing-email",
            "ops@example.com",
            "--poll-interval",
            "0.1",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def ssh_keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return (path.parent / (path.name + ".pub")).read_text().strip()


def test_resolve_timeout_bounds_the_wait_for_payment(shared_server: ServerProcess, tmp_path: Path) -> None:
    run = run_unpaid(shared_server, "--work-dir", str(tmp_path), "--resolve-timeout", "0.3")

    assert run.returncode == 1
    assert "not paid within 0.3 seconds" in run.stderr
    assert "waiting_payment" in run.stdout


def test_key_path_uses_an_existing_openssh_key(shared_server: ServerProcess, tmp_path: Path) -> None:
    ssh_keygen(tmp_path / "custom")

    run = run_unpaid(shared_server, "--key-path", str(tmp_path / "custom"), "--resolve-timeout", "0")

    assert f"[2/5] using the key {tmp_path / 'custom'}" in run.stdout
    assert "[4/5] payment URL" in run.stdout


def test_work_dir_defaults_to_the_originals_tmpdir_path(shared_server: ServerProcess, tmp_path: Path) -> None:
    run = run_unpaid(shared_server, "--resolve-timeout", "0", env={"TMPDIR": str(tmp_path)})

    assert "[2/5] generated a new key" in run.stdout
    assert (tmp_path / "mailservice-smoke" / "identity").exists()


def test_edproof_of_the_same_key_is_sent_as_given(shared_server: ServerProcess, tmp_path: Path) -> None:
    public_line = ssh_keygen(tmp_path / "identity")
    other_comment = " ".join([*public_line.split()[:2], "another-comment"])

    run = run_unpaid(
        shared_server, "--work-dir", str(tmp_path), "--edproof", other_comment, "--resolve-timeout", "0"
    )

    assert "[3/5] POST /v1/mailboxes/claim" in run.stdout
    assert "[4/5] payment URL" in run.stdout


def test_edproof_file_is_read_and_sent_as_edproof(shared_server: ServerProcess, tmp_path: Path) -> None:
    ssh_keygen(tmp_path / "identity")

    run = run_unpaid(
        shared_server,
        *("--work-dir", str(tmp_path), "--edproof-file", str(tmp_path / "identity.pub")),
        *("--resolve-timeout", "0"),
    )

    assert "[4/5] payment URL" in run.stdout


def test_edproof_of_another_key_fails_before_claiming(shared_server: ServerProcess, tmp_path: Path) -> None:
    ssh_keygen(tmp_path / "identity")
    stranger = ssh_keygen(tmp_path / "stranger")

    run = run_unpaid(shared_server, "--work-dir", str(tmp_path), "--edproof", stranger)

    assert run.returncode == 1
    assert "not the public key of the key file" in run.stderr
    assert "[3/5]" not in run.stdout


def test_edproof_and_edproof_file_together_are_refused(shared_server: ServerProcess, tmp_path: Path) -> None:
    run = run_unpaid(shared_server, "--edproof", "x", "--edproof-file", str(tmp_path / "x.pub"))

    assert run.returncode == 1
    assert "use either --edproof or --edproof-file, not both" in run.stderr


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_option_of_the_original(flag: str) -> None:
    run = subprocess.run(
        [MAILSERVICE, "smoke-test", flag], capture_output=True, text=True, timeout=60, env=wide_terminal()
    )

    assert run.returncode == 0
    for option in ORIGINAL_OPTIONS:
        assert option in run.stdout


ORIGINAL_OPTIONS = (
    "--base-url",
    "--billing-email",
    "--work-dir",
    "--key-path",
    "--edproof",
    "--edproof-file",
    "--resolve-timeout",
    "--poll-interval",
)


def wide_terminal() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
