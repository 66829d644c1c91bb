"""Throwaway Dovecot instances that live entirely in one work directory.

Used by the Postfix+Dovecot ingest baseline (LMTP) and by the IMAP comparisons in bench/ and tests/
(IMAP with one password user). Configuration, sockets, state, logs and mail all stay under the work
directory; nothing in /etc or /var is touched. Started as root, the mail processes run as `nobody` and
the login processes as Dovecot's own `dovenull`, as Debian's package sets them up; started as another
user, everything runs as that user.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

DOVECOT = "dovecot"
DOVECOT_VERSION_PREFIX = "2.3"
"""The Dovecot series whose answers our IMAP output follows (Debian 12 ships 2.3.19)."""


def run_command(*cmd: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command; raise with its output when it fails."""
    proc = subprocess.run(cmd, input=stdin, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc.stdout


def spawn_daemon(*cmd: str, log: Path) -> None:
    """Run a command that leaves a daemon behind; its output goes to `log` (a pipe would never close)."""
    with log.open("ab") as out:
        code = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False).returncode
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}; see {log}")


def package_installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() == "install ok installed"


def pid_alive(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process still runs."""
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def wait_gone(pid_file: Path, timeout: float) -> None:
    """Wait for the daemon named by `pid_file` to exit; SIGKILL it past `timeout`."""
    deadline = time.monotonic() + timeout
    while (pid := pid_alive(pid_file)) is not None:
        if time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


@dataclass(frozen=True)
class Accounts:
    """Who Dovecot's processes run as."""

    mail_user: str
    mail_group: str
    login_user: str
    internal_user: str

    @classmethod
    def for_current_user(cls) -> Accounts:
        if os.geteuid() == 0:
            return cls("nobody", "nogroup", "dovenull", "dovecot")
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(me.pw_gid).gr_name
        return cls(me.pw_name, group, me.pw_name, me.pw_name)


def base_conf(root: Path, accounts: Accounts, protocols: str) -> str:
    """The part of a dovecot.conf every instance shares: where it keeps its files, who it runs as,
    ~/Maildir, no TLS, the log in `root`. Callers add passdb/userdb and services."""
    return f"""\
protocols = {protocols}
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
default_login_user = {accounts.login_user}
default_internal_user = {accounts.internal_user}
first_valid_uid = {pwd.getpwnam(accounts.mail_user).pw_uid}
mail_location = maildir:~/Maildir
mail_fsync = optimized
maildir_very_dirty_syncs = yes
namespace inbox {{
  inbox = yes
  separator = /
  mailbox INBOX {{
    auto = subscribe
  }}
}}
"""


def static_userdb(accounts: Accounts, mail_root: Path) -> str:
    return f"""\
userdb {{
  driver = static
  args = uid={accounts.mail_user} gid={accounts.mail_group} home={mail_root}/%n
}}
"""


def imap_conf(
    root: Path, mail_root: Path, port: int, accounts: Accounts, quota_kib: int | None = None
) -> str:
    """IMAP on 127.0.0.1:`port` with plaintext LOGIN/PLAIN, users from `root`/passwd (plain passwords).

    Everything else is Dovecot's default (one login process per connection, as Debian ships it);
    the per-user connection limit is raised so that a benchmark can hold hundreds of IDLE clients.
    With `quota_kib` the user has a storage quota of that many KiB (maildir++ quota, IMAP QUOTA).
    """
    return (
        base_conf(root, accounts, "imap")
        + f"""\
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
"""
        + static_userdb(accounts, mail_root)
        + f"""\
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 2000
}}
service imap {{
  process_limit = 2000
}}
default_client_limit = 4000
"""
        + (quota_conf(quota_kib) if quota_kib is not None else "")
    )


def quota_conf(quota_kib: int) -> str:
    return f"""\
mail_plugins = $mail_plugins quota
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage={quota_kib}K
}}
"""


def imap_ready(port: int, timeout: float = 1.0) -> bool:
    """True when something on 127.0.0.1:`port` greets with `* OK`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            return sock.recv(512).startswith(b"* OK")
    except OSError:
        return False


class DovecotImap:
    """Context manager: Dovecot's IMAP server as a child process (`dovecot -F`) on 127.0.0.1:`port`,
    with one user `user` / `password` whose maildir is under `workdir`.

    `workdir` must be traversable by the mail and login users (a fresh `tempfile.mkdtemp()` made
    0755 is; pytest's tmp_path under /tmp/pytest-of-root is not).
    """

    def __init__(
        self,
        workdir: Path,
        port: int,
        user: str = "tester",
        password: str = "secret-password",
        quota_kib: int | None = None,
    ):
        self.workdir = workdir
        self.quota_kib = quota_kib
        self.port = port
        self.user = user
        self.password = password
        self.accounts = Accounts.for_current_user()
        self.root = workdir / "dovecot"
        self.mail_root = workdir / "mail"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def maildir(self) -> Path:
        return self.mail_root / self.user / "Maildir"

    def __enter__(self) -> DovecotImap:
        try:
            self._write_config()
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        for path in (self.root, self.mail_root):
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        shutil.chown(self.mail_root, self.accounts.mail_user, self.accounts.mail_group)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        self.conf.write_text(imap_conf(self.root, self.mail_root, self.port, self.accounts, self.quota_kib))

    def _start(self, timeout: float = 30.0) -> None:
        log = (self.root / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.conf)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while not imap_ready(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dovecot did not answer on port {self.port}:\n{self.log()}")
            time.sleep(0.05)
