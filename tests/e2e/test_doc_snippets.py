"""Every shell and Python block of README.md and docs/ runs as written against a served instance.

Blocks are read from the documents themselves, so a test fails when the docs drift from the service.
The only changes made before running are the placeholders a reader fills in (the service's address,
the mailbox's address, password and token, see `placeholders`) and shorter timeouts. While a block
runs, the "sender" of the docs (`MailTrigger`) delivers a mail with a code from example.com to every
active mailbox a few times a second, as the e-mail the docs say to trigger. A block that cannot run
here is marked ```sh no-run in its fence and only checked to be rare.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailservice.client import AgentKey, MailClient
from tests.support.doc_snippets import NO_RUN, Snippet, snippets
from tests.support.server import ServerProcess, SharedServers

pytestmark = pytest.mark.slow

WALK_THROUGH = "Try it with curl and ssh-keygen"
README_URL = "URL=http://localhost:8080"
SNIPPET_DEADLINE_SECONDS = 60
MAX_NO_RUN_BLOCKS = 6
TRIGGER_EVERY_SECONDS = 0.3
VENV_BIN = Path(sys.executable).parent
# Runs a block with top-level `await`, as the docs write async examples.
PYTHON_RUNNER = """
import ast, asyncio, sys
path = sys.argv[1]
code = compile(open(path).read(), path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
result = eval(code, {"__name__": "__main__"})
if asyncio.iscoroutine(result):
    asyncio.run(result)
"""
SHORTER_WAITS = {"seconds=120": "seconds=2"}
# A secret in the form POST /v1/webhooks hands out (whsec_ and 32 bytes in base64), for the receiver's block.
EXAMPLE_WEBHOOK_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


@dataclass(frozen=True)
class PaidMailbox:
    key_dir: Path
    email: str
    password: str
    access_token: str


def walk_through() -> Snippet:
    (found,) = [s for s in snippets() if s.heading == WALK_THROUGH and s.language == "sh"]
    return found


def run_by_the_generic_test() -> list[Snippet]:
    """Every runnable block but the walk-through, which its own test runs with closer checks."""
    return [s for s in snippets() if s.runs and s.heading != WALK_THROUGH]


def test_every_block_names_its_language_and_few_are_kept_from_running() -> None:
    blocks = snippets()
    kept_back = [s.name for s in blocks if NO_RUN in s.flags]

    assert [s.name for s in blocks if not s.language] == []
    assert len(kept_back) <= MAX_NO_RUN_BLOCKS, kept_back


@pytest.mark.parametrize("snippet", [s for s in snippets() if s.language == "json"], ids=lambda s: s.name)
def test_json_blocks_are_valid_json(snippet: Snippet) -> None:
    json.loads(snippet.code)


@pytest.fixture(scope="module")
def served(shared_servers: SharedServers) -> ServerProcess:
    return shared_servers.get("sqlite")


@pytest.fixture(scope="module")
def mailbox(served: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> PaidMailbox:
    """A paid mailbox whose key is `agent_key` in the directory each block runs in, with one mail."""
    key_dir = tmp_path_factory.mktemp("docs-key")
    key = AgentKey.generate().save(key_dir / "agent_key")
    with MailClient(served.base_url, key=key) as mail:
        claimed = mail.claim("billing@example.com")
        assert claimed.payment_url is not None
        httpx.get(claimed.payment_url, timeout=10).raise_for_status()
        access = mail.resolve()
    deliver(served.smtp_port, access.email)
    return PaidMailbox(key_dir, access.email, access.password, access.access_token)


def placeholders(served: ServerProcess, mailbox: PaidMailbox) -> dict[str, str]:
    host = served.base_url.removeprefix("http://")
    return {
        "https://mail.example.com": served.base_url,
        "localhost:8080": host,
        '"localhost", 1143': f'"127.0.0.1", {served.imap_port}',
        '"localhost", 1110': f'"127.0.0.1", {served.pop3_port}',
        "mbx_0123456789a@mail.local": mailbox.email,
        "<password from resolve>": mailbox.password,
        "<access_token from resolve>": mailbox.access_token,
        "mat_...": mailbox.access_token,
        "whsec_...": EXAMPLE_WEBHOOK_SECRET,
        **SHORTER_WAITS,
    }


def filled_in(code: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        code = code.replace(placeholder, value)
    return code


def deliver(smtp_port: int, address: str) -> None:
    message = (
        f"From: GitHub <noreply@example.com>\r\nTo: {address}\r\nSubject: Your verification code\r\n\r\n"
        "Your verification code is 482913.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
        smtp.sendmail("noreply@example.com", [address], message)


class MailTrigger:
    """Mails every active mailbox of the served instance (also those a block claims itself) until stopped."""

    def __init__(self, served: ServerProcess) -> None:
        self._served = served
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MailTrigger:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(TRIGGER_EVERY_SECONDS):
            for address in self._active_addresses():
                deliver(self._served.smtp_port, address)

    def _active_addresses(self) -> list[str]:
        database = sqlite3.connect(self._served.database_dsn, timeout=5)
        try:
            rows = database.execute("SELECT login FROM mailboxes WHERE status = 'active'").fetchall()
        finally:
            database.close()
        return [f"{login}@agents.test" for (login,) in rows]


def run_snippet(
    snippet: Snippet, code: str, workdir: Path, served: ServerProcess
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"}
    if snippet.language == "sh":
        command = ["bash", "-euo", "pipefail", "-c", code]
    else:
        (workdir / "snippet.py").write_text(code)
        command = [sys.executable, "-c", PYTHON_RUNNER, "snippet.py"]
    with MailTrigger(served):
        return subprocess.run(
            command,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=SNIPPET_DEADLINE_SECONDS,
            check=False,
        )


def workdir_for(snippet: Snippet, tmp_path: Path, mailbox: PaidMailbox) -> Path:
    """The block's directory, with the paid mailbox's key as `agent_key` unless the block makes its own."""
    if "ssh-keygen -t" in snippet.code:
        return tmp_path
    cli_default = tmp_path / ".config" / "mailservice"  # where `mailservice agent` looks, HOME being tmp_path
    for directory in (tmp_path, cli_default):
        directory.mkdir(parents=True, exist_ok=True)
        if directory == cli_default and "agent keygen" in snippet.code:
            continue
        for name in ("agent_key", "agent_key.pub"):
            shutil.copy2(mailbox.key_dir / name, directory / name)
    return tmp_path


@pytest.mark.parametrize("snippet", run_by_the_generic_test(), ids=lambda s: s.name)
def test_snippet_runs_as_written(
    snippet: Snippet, served: ServerProcess, mailbox: PaidMailbox, tmp_path: Path
) -> None:
    code = filled_in(snippet.code, placeholders(served, mailbox))

    ran = run_snippet(snippet, code, workdir_for(snippet, tmp_path, mailbox), served)

    assert ran.returncode == 0, f"{snippet.name} failed:\n{ran.stdout}\n{ran.stderr}"
    assert "Traceback" not in ran.stderr, ran.stderr


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_readme_walk_through_claims_pays_and_resolves_by_copy_and_paste(
    served: ServerProcess, tmp_path: Path
) -> None:
    script = walk_through().code
    assert README_URL in script, "the walk-through should name the service once, as URL="

    ran = run_snippet(walk_through(), script.replace(README_URL, f"URL={served.base_url}"), tmp_path, served)

    assert ran.returncode == 0, ran.stderr
    answers = json_lines(ran.stdout)
    claimed, resolved = answers[0], answers[-1]
    assert claimed["status"] == "pending_payment", ran.stdout
    assert "error" not in resolved, ran.stdout
    assert resolved["email"] == claimed["email"]
    assert resolved["access_token"].startswith(f"mat_{resolved['mailbox_id']}.")
    assert (resolved["host"], resolved["port"]) == ("localhost", served.imap_port)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", resolved["expires_at"]), resolved
