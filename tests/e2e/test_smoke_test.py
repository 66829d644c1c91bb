"""`mailservice smoke-test` against a real server: it claims, prints the payment link, waits for payment."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.server import MAILSERVICE, ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The smoke test speaks HTTP only; one backend is enough."""
    process = ServerProcess(tmp_path, str(tmp_path / "data" / "mailservice.db"))
    process.start()
    yield process
    process.kill()


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
