from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, served_on
from tests.support.tls import self_signed


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A started server on an empty database of each backend: `serve` migrates it itself."""
    workers = request.node.get_closest_marker("parser_workers") is not None
    yield from served_on(request.param, tmp_path, parse_in_workers=workers)


@pytest.fixture(params=["sqlite", "postgresql"])
def tls_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A served instance with a certificate and plaintext login refused, as in production."""
    cert, key = self_signed(tmp_path)
    extra = {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key), "ALLOW_PLAINTEXT_AUTH": "false"}
    workers = request.node.get_closest_marker("parser_workers") is not None
    yield from served_on(request.param, tmp_path, extra, parse_in_workers=workers)
