from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess, SharedServers, served_on
from tests.support.tls import self_signed

SHARED_SERVERS = pytest.StashKey[SharedServers]()
E2E_DIRECTORY = Path(__file__).parent


@pytest.fixture(scope="session")
def shared_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedServers]:
    servers = SharedServers(tmp_path_factory)
    request.config.stash[SHARED_SERVERS] = servers
    yield servers
    servers.stop_all()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """The shared servers stop when the run leaves these tests, instead of polling idle through the rest."""
    if nextitem is None or E2E_DIRECTORY not in nextitem.path.parents:
        servers = item.config.stash.get(SHARED_SERVERS, None)
        if servers is not None:
            servers.stop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A started server on each backend: shared with the other tests, unless the test is marked
    own_server (it stops or kills the server); an own server starts on an empty database and migrates it."""
    workers = request.node.get_closest_marker("parser_workers") is not None
    if request.node.get_closest_marker("own_server") is not None:
        yield from served_on(request.param, tmp_path, parse_in_workers=workers, migrated=False)
    else:
        shared: SharedServers = request.getfixturevalue("shared_servers")
        yield shared.get(request.param, parse_in_workers=workers)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(params=["sqlite", "postgresql"])
def tls_server(
    request: pytest.FixtureRequest, shared_servers: SharedServers, tls_files: tuple[Path, Path]
) -> ServerProcess:
    """A served instance with a certificate and plaintext login refused, as in production; shared."""
    cert, key = tls_files
    extra = {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key), "ALLOW_PLAINTEXT_AUTH": "false"}
    workers = request.node.get_closest_marker("parser_workers") is not None
    return shared_servers.get(request.param, extra, parse_in_workers=workers)
