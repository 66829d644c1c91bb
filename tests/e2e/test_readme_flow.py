"""The README's curl and ssh-keygen walk-through, run as written against a served instance.

The shell block is read from README.md itself, so the test fails when the README drifts from the service.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
WALK_THROUGH = "## Try it with curl and ssh-keygen"
README_URL = "URL=http://localhost:8080"
SCRIPT_DEADLINE_SECONDS = 60


def walk_through_script(readme: str) -> str:
    """The first ```sh block under the walk-through's heading."""
    section = readme[readme.index(WALK_THROUGH) :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the walk-through has no ```sh block"
    return match.group(1)


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "server", str(tmp_path / "server" / "data" / "mailservice.db"))
    process.workdir.mkdir()
    process.start()
    yield process
    process.kill()


def test_the_readme_walk_through_claims_pays_and_resolves_by_copy_and_paste(
    sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    script = walk_through_script(README.read_text(encoding="utf-8"))
    assert README_URL in script, "the walk-through should name the service once, as URL="
    script = script.replace(README_URL, f"URL={sqlite_server.base_url}")

    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SCRIPT_DEADLINE_SECONDS,
        check=False,
    )

    assert ran.returncode == 0, ran.stderr
    answers = json_lines(ran.stdout)
    claimed, resolved = answers[0], answers[-1]
    assert claimed["status"] == "pending_payment", ran.stdout
    assert "error" not in resolved, ran.stdout
    assert resolved["email"] == claimed["email"]
    assert resolved["access_token"].startswith(f"mat_{resolved['mailbox_id']}.")
    assert (resolved["host"], resolved["port"]) == ("localhost", sqlite_server.imap_port)
