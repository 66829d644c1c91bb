"""`mailservice serve` names insecure settings in its log when it starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import migrated_sqlite_copy
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def exposed_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, migrated_sqlite_copy(tmp_path / "data"))
    process.extra_env = {"EDPROOF_ALLOW_UNSIGNED": "true", "HTTP_ADDR": f"0.0.0.0:{process.http_port}"}
    process.start()
    yield process
    process.kill()


def test_unsigned_proofs_and_exposed_mock_payments_are_logged_as_warnings_at_start(
    exposed_server: ServerProcess,
) -> None:
    warnings = [line for line in exposed_server.log().splitlines() if " WARNING " in line]

    assert any("INSECURE EDPROOF_ALLOW_UNSIGNED=true" in line for line in warnings), warnings
    assert any("INSECURE mock payments on a non-loopback address" in line for line in warnings), warnings
