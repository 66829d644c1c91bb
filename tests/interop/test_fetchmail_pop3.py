"""fetchmail over POP3: downloads everything, keeps it when told to, fetches only new mail by UIDL
across sessions, and deletes what it does not keep."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.engine_thread import RunningEngine, engine_in_thread
from tests.interop.mail_targets import crlf_message
from tests.support.databases import empty_postgres_database, sqlite_copy
from tests.support.dovecot import ImapAccount
from tests.support.external import require_programs
from tests.support.mail import send

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEngine]:
    workdir = tmp_path_factory.mktemp(f"pop3-{request.param}")
    if request.param == "sqlite":
        dsn = sqlite_copy(request.getfixturevalue("sqlite_template_path"), workdir)
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        empty_postgres_database(dsn)
    with engine_in_thread(dsn, workdir) as running:
        yield running


def fetch(
    engine: RunningEngine, account: ImapAccount, home: Path, out: Path, options: str, uidl: bool = False
) -> int:
    config = home / "fetchmailrc"
    config.write_text(f"""\
set no syslog
poll 127.0.0.1 service {engine.pop3_port} protocol POP3 auth password timeout 30{" uidl" if uidl else ""}
  user "{account.user}" password "{account.password}" is "root" here
  {options} no rewrite sslproto ''
  mda "/bin/sh -c 'cat > {out}/$$.eml'"
""")
    config.chmod(0o600)
    env = {**os.environ, "FETCHMAILHOME": str(home)}
    result = subprocess.run(
        ["fetchmail", "-f", str(config), "--nodetach"], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 0: mail fetched, 1: none
    return result.returncode


def on_server(engine: RunningEngine, account: ImapAccount) -> int:
    async def count() -> int:
        session = await engine.runtime.services.mail_access.login(account.user, account.password, "127.0.0.1")
        return len((await session.open("INBOX")).messages)

    return engine.run(count())


def deliver(engine: RunningEngine, account: ImapAccount, raw: bytes) -> None:
    engine.run(send(engine.smtp_port, raw, [account.user]))


def downloaded(out: Path) -> list[bytes]:
    return sorted(path.read_bytes() for path in out.iterdir())


def test_fetchmail_keeps_fetches_new_mail_by_uidl_then_deletes(engine: RunningEngine, tmp_path: Path) -> None:
    require_programs("fetchmail")
    account = engine.new_account()
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    first = [crlf_message(account.user, f"pop {i}", f"body {i}\n.dot line\n") for i in range(2)]
    for raw in first:
        deliver(engine, account, raw)

    assert fetch(engine, account, home, out, "keep", uidl=True) == 0
    got = downloaded(out)
    assert len(got) == 2
    assert all(any(data.endswith(raw.replace(b"\r\n", b"\n")) for data in got) for raw in first)
    assert on_server(engine, account) == 2

    deliver(engine, account, crlf_message(account.user, "pop 2", "body 2\n"))
    assert fetch(engine, account, home, out, "keep", uidl=True) == 0
    assert len(downloaded(out)) == 3  # only the new message: the unique ids held across sessions
    assert fetch(engine, account, home, out, "keep", uidl=True) == 1

    assert fetch(engine, account, home, out, "no keep fetchall") == 0
    assert len(downloaded(out)) == 6
    assert on_server(engine, account) == 0
