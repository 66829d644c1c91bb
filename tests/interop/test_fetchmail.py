"""fetchmail downloads everything, keeps it on the server when told to, and deletes what it flushes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from bench.imap_wire import search_numbers

from tests.interop.mail_targets import MailTarget, crlf_message
from tests.support.external import require_programs

pytestmark = pytest.mark.slow


def fetchmailrc(mailbox: MailTarget, out: Path, options: str) -> str:
    account = mailbox.account
    return f"""\
set no syslog
poll {account.host} service {account.port} protocol IMAP auth password timeout 30
  user "{account.user}" password "{account.password}" is "root" here
  {options} no rewrite sslproto ''
  mda "/bin/sh -c 'cat > {out}/$$.eml'"
"""


def fetch(mailbox: MailTarget, home: Path, out: Path, options: str) -> None:
    config = home / "fetchmailrc"
    config.write_text(fetchmailrc(mailbox, out, options))
    config.chmod(0o600)
    env = {**os.environ, "FETCHMAILHOME": str(home)}
    # Run as root, fetchmail locks /var/run/fetchmail.pid whatever FETCHMAILHOME says: the runs of
    # parallel tests would refuse each other.
    command = ["fetchmail", "-f", str(config), "--nodetach", "--pidfile", str(home / "fetchmail.pid")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr  # 0: mail was fetched


def downloaded(out: Path) -> list[bytes]:
    return sorted(path.read_bytes() for path in out.iterdir())


def on_server(mailbox: MailTarget, criteria: str) -> list[int]:
    with mailbox.account.connect() as wire:
        wire.command("EXAMINE INBOX")
        return search_numbers(wire.command(f"SEARCH {criteria}"))


def test_fetchmail_keeps_then_flushes_then_deletes(mailbox: MailTarget, tmp_path: Path) -> None:
    require_programs("fetchmail")
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    first = [crlf_message(mailbox.address, f"fetch {i}", f"body {i}\n") for i in range(2)]
    for raw in first:
        mailbox.deliver(raw)

    fetch(mailbox, home, out, "keep fetchall")
    got = downloaded(out)
    assert len(got) == 2
    assert all(any(data.endswith(raw.replace(b"\r\n", b"\n")) for data in got) for raw in first)
    assert on_server(mailbox, "SEEN") == [1, 2]

    mailbox.deliver(crlf_message(mailbox.address, "fetch 2", "body 2\n"))
    fetch(mailbox, home, out, "keep flush")
    assert len(downloaded(out)) == 3
    assert on_server(mailbox, "ALL") == [1]

    mailbox.deliver(crlf_message(mailbox.address, "fetch 3", "body 3\n"))
    fetch(mailbox, home, out, "no keep fetchall")
    assert len(downloaded(out)) == 5
    assert on_server(mailbox, "ALL") == []
