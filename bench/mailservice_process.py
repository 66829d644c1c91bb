"""Run `mailservice serve` as a separate process for benchmarks, with paid mailboxes ready to receive."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAILSERVICE = str(Path(sys.executable).with_name("mailservice"))
SECRET = "benchmark-secret-key-0123456789abcdef0123456789"
BENCH_SERVER_ENV = {
    "SMTP_MAX_CONNECTIONS_PER_IP": "20000",
    "IMAP_MAX_CONNECTIONS_PER_IP": "20000",
    "POP3_MAX_CONNECTIONS_PER_IP": "20000",
    "LOGIN_FAILURES_PER_IP": "1000000",
    "LOGIN_FAILURES_PER_IP_AND_LOGIN": "1000000",
}
"""For benchmarks whose many clients all come from 127.0.0.1 with one login: no per-address caps and no
login throttle (a throttled login charges each attempt in flight, so parallel logins would be refused)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class MailserviceProcess:
    workdir: Path
    database_dsn: str
    extra_env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    imap_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def __enter__(self) -> MailserviceProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HTTP_ADDR": f"127.0.0.1:{self.http_port}",
            "SMTP_ADDR": f"127.0.0.1:{self.smtp_port}",
            "IMAP_ADDR": f"127.0.0.1:{self.imap_port}",
            "POP3_ADDR": f"127.0.0.1:{free_port()}",  # never the shared default port
            "DATABASE_DSN": self.database_dsn,
            "DATA_DIR": str(self.workdir / "data"),
            "SECRET_KEY": SECRET,
            "MAIL_DOMAIN": "bench.test",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.http_port}",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_MINUTE": "0",
            # another source tree's server, to compare two versions in one sitting
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
            **self.extra_env,
        }
        log = (self.workdir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [MAILSERVICE, "serve"], cwd=self.workdir, env=env, stdout=log, stderr=log
        )
        try:
            wait_until_healthy(
                self.base_url, self.process, 60, lambda: (self.workdir / "server.log").read_text()
            )
        except BaseException:
            self.process.kill()  # a server that never came up is not left behind
            self.process.wait()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def paid_addresses(self, count: int) -> list[str]:
        return [address for address, _ in self.paid_mailboxes(count)]

    def paid_mailboxes(self, count: int) -> list[tuple[str, str]]:
        """(address, access token) of `count` new paid mailboxes."""
        return [(str(d["email"]), str(d["access_token"])) for d in self.paid_access(count)]

    def paid_access(self, count: int) -> list[dict[str, object]]:
        """What /v1/access/resolve answers (email, username, password, access_token...) for `count`
        new paid mailboxes."""
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            return [_claim_and_pay(client) for _ in range(count)]


def _claim_and_pay(client: httpx.Client) -> dict[str, object]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()

    def proof() -> dict[str, str]:
        challenge = client.post("/v1/auth/challenge", json={"public_key": public}).json()["challenge"]
        signature = base64.b64encode(key.sign(challenge.encode())).decode()
        return {"edproof": public, "challenge": challenge, "signature": signature}

    claimed = client.post(
        "/v1/mailboxes/claim", json={"billing_email": "bench@example.com", **proof()}
    ).json()
    client.get(claimed["payment_url"]).raise_for_status()
    resolved: dict[str, object] = client.post(
        "/v1/access/resolve", json={"protocol": "imap", **proof()}
    ).json()
    return resolved


def wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], seconds: float, log: Callable[[], str]
) -> None:
    """Poll `base_url`'s /healthz until it answers 200; raise (with `log()`) if `process` exits first or
    `seconds` pass."""
    deadline = time.monotonic() + seconds
    # One client for every poll: each new client loads the system's certificates (about 60 ms of CPU),
    # which at a poll every 50 ms was a quarter of the test processes' CPU.
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log()}")
            try:
                if http.get(f"{base_url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
    raise RuntimeError(f"server did not become healthy:\n{log()}")
