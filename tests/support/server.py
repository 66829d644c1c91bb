"""A real `mailservice serve` process on free ports, for end-to-end tests."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET
from tests.support.databases import create_empty_postgres_database, drop_postgres_database
from tests.support.ports import free_port

MAILSERVICE = str(Path(sys.executable).with_name("mailservice"))
START_DEADLINE_SECONDS = 120.0  # a deadline, not a wait: a loaded machine can take long to import and migrate


@dataclass
class ServerProcess:
    workdir: Path
    database_dsn: str
    extra_env: dict[str, str] = field(default_factory=dict)
    parse_in_workers: bool = False  # the default of `serve`; off, a start is a second faster
    open_file_limit: int | None = None  # RLIMIT_NOFILE (soft and hard) of the served process
    http_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    imap_port: int = field(default_factory=free_port)
    imaps_port: int = field(default_factory=free_port)
    pop3_port: int = field(default_factory=free_port)
    pop3s_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HTTP_ADDR": f"127.0.0.1:{self.http_port}",
            "SMTP_ADDR": f"127.0.0.1:{self.smtp_port}",
            "IMAP_ADDR": f"127.0.0.1:{self.imap_port}",
            "IMAPS_ADDR": f"127.0.0.1:{self.imaps_port}",
            "POP3_ADDR": f"127.0.0.1:{self.pop3_port}",
            "POP3S_ADDR": f"127.0.0.1:{self.pop3s_port}",
            "DATABASE_DSN": self.database_dsn,
            "DATA_DIR": str(self.workdir / "data"),
            "SECRET_KEY": TEST_SECRET,
            "MAIL_DOMAIN": "agents.test",
            "PUBLIC_BASE_URL": self.base_url,
            "RATE_LIMIT_PER_MINUTE": "0",
            **({} if self.parse_in_workers else {"PARSER_PROCESSES": "0"}),
            **self.extra_env,
        }

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [MAILSERVICE, "serve"],
            cwd=self.workdir,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit_open_files if self.open_file_limit else None,
        )
        self.wait_until_healthy()

    def _limit_open_files(self) -> None:
        assert self.open_file_limit is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_file_limit, self.open_file_limit))

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not become healthy:\n{self.log()}")

    def stop(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def child_pids(self) -> list[int]:
        """The server's child processes (its parser workers)."""
        assert self.process is not None
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # ended while we looked
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def served_on(
    database: str, tmp_path: Path, env: dict[str, str] | None = None, parse_in_workers: bool = False
) -> Iterator[ServerProcess]:
    """A started server on a new, empty database of `database` ("sqlite" or "postgresql"), stopped and
    its database dropped afterwards: what a fixture parametrized over both backends yields from."""
    sqlite = database == "sqlite"
    dsn = str(tmp_path / "data" / "mailservice.db") if sqlite else create_empty_postgres_database()
    process = ServerProcess(tmp_path, dsn, extra_env=env or {}, parse_in_workers=parse_in_workers)
    try:
        process.start()
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.kill()
        if not sqlite:
            drop_postgres_database(dsn)
