from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import create_empty_postgres_database, drop_postgres_database
from tests.support.server import ServerProcess
from tests.support.tls import self_signed


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A started server on an empty database of each backend: `serve` migrates it itself."""
    sqlite = request.param == "sqlite"
    dsn = str(tmp_path / "data" / "mailservice.db") if sqlite else create_empty_postgres_database()
    workers = request.node.get_closest_marker("parser_workers") is not None
    process = ServerProcess(tmp_path, dsn, parse_in_workers=workers)
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()
    if request.param == "postgresql":
        drop_postgres_database(dsn)


@pytest.fixture(params=["sqlite", "postgresql"])
def tls_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A served instance with a certificate and plaintext login refused, as in production."""
    sqlite = request.param == "sqlite"
    dsn = str(tmp_path / "data" / "mailservice.db") if sqlite else create_empty_postgres_database()
    cert, key = self_signed(tmp_path)
    extra = {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key), "ALLOW_PLAINTEXT_AUTH": "false"}
    workers = request.node.get_closest_marker("parser_workers") is not None
    process = ServerProcess(tmp_path, dsn, extra_env=extra, parse_in_workers=workers)
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()
    if not sqlite:
        drop_postgres_database(dsn)
