"""`mailservice agent ...` run as a program against a real server, the way an agent's shell runs it.

The commands only speak HTTP, so one database backend is enough here: the client and the API are
covered on both elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mail import text_message
from tests.support.server import MAILSERVICE, ServerProcess, SharedServers

# Each command is a new process: on a loaded machine the whole flow can take minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

COMMAND_TIMEOUT_SECONDS = 300  # a safety net only: a command on a loaded machine may take long to start


@pytest.fixture
def sqlite_server(shared_servers: SharedServers) -> ServerProcess:
    return shared_servers.get("sqlite")


class AgentShell:
    def __init__(self, base_url: str, key: Path) -> None:
        self.env = {"PATH": os.environ.get("PATH", ""), "MAILSERVICE_URL": base_url}
        self.key = key

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [MAILSERVICE, "agent", *args, "--key", str(self.key)]
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS
        )

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def deliver(server: ServerProcess, address: str, subject: str, body: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        smtp.sendmail("noreply@example.org", [address], text_message(address, subject, body))


def test_agent_commands_from_key_to_verification_code(sqlite_server: ServerProcess, tmp_path: Path) -> None:
    shell = AgentShell(sqlite_server.base_url, tmp_path / "keys" / "agent_key")

    made = shell.json("keygen")
    claimed = shell.json("claim", "--billing-email", "billing@example.com")
    refused = shell.run("resolve")
    assert httpx.get(claimed["payment_url"]).status_code == 200
    status = shell.run("status")
    renewed = shell.json("renew")
    policy = shell.json("retention")
    changed = shell.json("retention", "--max-age-days", "30", "--refuse-when-full")
    forever = shell.run("retention", "--forever")
    clash = shell.run("retention", "--forever", "--max-age-days", "3")
    deliver(sqlite_server, claimed["email"], "Confirm your sign-up", "Your verification code is 482913.\n")
    # The message is unsigned and comes from 127.0.0.1, so example.org cannot be verified as its sender.
    unverified = shell.run(
        "wait", "--code", "--from-domain", "example.org", "--require-verified", "--timeout", "1"
    )
    code = shell.run("wait", "--code", "--timeout", "10")
    inbox = shell.run("inbox")
    read = shell.run("read", "1")
    first = shell.json("wait", "--after-uid", "0", "--timeout", "10")
    nothing = shell.run("wait", "--timeout", "0", "--json")
    events = shell.run("events")
    logged = shell.json("events", "--after", "0")

    assert made["public_key"] == (tmp_path / "keys" / "agent_key.pub").read_text().strip()
    assert claimed["status"] == "pending_payment"
    assert refused.returncode == 1
    assert f"pay at {claimed['payment_url']}" in refused.stderr
    assert status.returncode == 0
    assert "active" in status.stdout and claimed["email"] in status.stdout
    assert re.search(r"^expires: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", status.stdout, re.M), (
        status.stdout
    )
    assert f"key:     {made['fingerprint']}" in status.stdout and made["fingerprint"].startswith("SHA256:")
    assert (renewed["status"], renewed["email"]) == ("active", claimed["email"])
    assert renewed["payment_url"] not in (None, claimed["payment_url"])
    assert policy == {"max_age_days": None, "delete_oldest_read_when_full": True, "source": "default"}
    assert changed == {"max_age_days": 30, "delete_oldest_read_when_full": False, "source": "mailbox"}
    assert forever.returncode == 0 and "forever" in forever.stdout and "refuse new mail" in forever.stdout
    assert clash.returncode == 2 and "exclude each other" in clash.stderr
    assert (unverified.returncode, unverified.stdout) == (3, "")
    assert (code.returncode, code.stdout) == (0, "482913\n")
    assert "Confirm your sign-up" in inbox.stdout and "482913" in inbox.stdout
    assert read.returncode == 0 and "Your verification code is 482913." in read.stdout
    assert (first["uid"], first["subject"], first["codes"][0]["code"]) == (
        1,
        "Confirm your sign-up",
        "482913",
    )
    assert nothing.returncode == 3
    assert json.loads(nothing.stdout)["code"] == "timed_out"
    assert "message.received" in events.stdout and "Confirm your sign-up" in events.stdout
    assert [event["type"] for event in logged["events"]][-1] == "message.received"
    assert f"next: --after {logged['next_after']}" in events.stdout


def test_keygen_refuses_to_replace_a_key_and_commands_explain_a_missing_one(tmp_path: Path) -> None:
    shell = AgentShell("http://127.0.0.1:9", tmp_path / "agent_key")
    shell.json("keygen")
    first = (tmp_path / "agent_key").read_bytes()

    again = shell.run("keygen")
    missing = AgentShell("http://127.0.0.1:9", tmp_path / "absent").run("status")

    assert again.returncode == 2 and "already exists" in again.stderr
    assert (tmp_path / "agent_key").read_bytes() == first
    assert missing.returncode == 2 and "mailservice agent keygen" in missing.stderr
