"""A real `mailservice serve` process on free ports, for end-to-end tests: one of a test's own, or one
shared by the tests that need the same configuration and only touch mailboxes they claim themselves."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from bench.mailservice_process import wait_until_healthy

from tests.conftest import TEST_SECRET
from tests.support.databases import (
    create_empty_postgres_database,
    create_migrated_postgres_database,
    drop_postgres_database,
    migrated_sqlite_copy,
)
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
    shared: bool = False  # other tests use it too: it may not be stopped, and its log starts at `log_start`
    log_start: int = 0  # the offset in the log file where what this test caused begins

    def for_one_test(self) -> ServerProcess:
        """A view of this shared process whose log() holds only what was logged from now on."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"a shared server exited:\n{self.log()}")
        size = self.log_path.stat().st_size if self.log_path.exists() else 0
        return replace(self, shared=True, log_start=size)

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
        assert self.process is not None
        wait_until_healthy(self.base_url, self.process, START_DEADLINE_SECONDS, self.log)

    def stop(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        assert not self.shared, "a shared server serves other tests too: mark the test own_server"
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        assert self.process is not None
        assert not self.shared, "a shared server serves other tests too: mark the test own_server"
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
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self.log_start)
            return log.read().decode(errors="replace")


def served_on(
    database: str,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    parse_in_workers: bool = False,
    migrated: bool = True,
) -> Iterator[ServerProcess]:
    """A started server on a new database of `database` ("sqlite" or "postgresql"), stopped and its
    database dropped afterwards: what a fixture parametrized over both backends yields from.

    The database is a copy of a migrated one, so the start is quicker; `migrated=False` gives an empty
    one, which `serve` migrates as it does on a first deployment."""
    process = new_server(database, tmp_path, env, parse_in_workers, migrated)
    try:
        process.start()
        yield process
    finally:
        _end(process, database)


def new_server(
    database: str,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    parse_in_workers: bool = False,
    migrated: bool = True,
) -> ServerProcess:
    """A server process on a new database, not started yet."""
    return ServerProcess(
        tmp_path, _new_database(database, tmp_path, migrated), dict(env or {}), parse_in_workers
    )


def _new_database(database: str, tmp_path: Path, migrated: bool) -> str:
    if database == "sqlite":
        directory = tmp_path / "data"
        return migrated_sqlite_copy(directory) if migrated else str(directory / "mailservice.db")
    return create_migrated_postgres_database() if migrated else create_empty_postgres_database()


def _end(process: ServerProcess, database: str) -> None:
    if process.process is not None and process.process.poll() is None:
        process.process.kill()
        process.process.wait()
    if database != "sqlite":
        drop_postgres_database(process.database_dsn)


class SharedServers:
    """Started servers, one per configuration, that tests share; `stop_all` ends them and drops their
    databases (tests/e2e/conftest.py calls it when the run leaves the end-to-end tests).

    For tests that claim their own mailboxes and leave the server running: a new process per test would
    spend seconds starting for a test that takes a fraction of one."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._started: dict[tuple[str, frozenset[tuple[str, str]], bool], ServerProcess] = {}

    def get(
        self, database: str, env: Mapping[str, str] | None = None, parse_in_workers: bool = False
    ) -> ServerProcess:
        key = (database, frozenset((env or {}).items()), parse_in_workers)
        if key not in self._started:
            workdir = self._tmp_path_factory.mktemp(f"shared-{database}")
            process = new_server(database, workdir, env, parse_in_workers)
            self._started[key] = process
            process.start()
        return self._started[key].for_one_test()

    def stop_all(self) -> None:
        for (database, _, _), process in self._started.items():
            _end(process, database)
        self._started.clear()


async def until_ended(pids: list[int], seconds: float = 5.0) -> None:
    """Wait until none of `pids` runs any more (an ended process that nobody reaped yet counts as ended)."""
    async with asyncio.timeout(seconds):
        while any(_running(pid) for pid in pids):  # noqa: ASYNC110 -- other processes
            await asyncio.sleep(0.01)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
