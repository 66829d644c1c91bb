"""A throwaway Postfix -> LMTP -> Dovecot (maildir) pairing to measure our ingest against.

Postfix runs as its own instance (`postfix -c <workdir>/postfix`) and Dovecot as its own
(`dovecot -c <workdir>/dovecot/dovecot.conf`); nothing under /etc is changed beyond what the
package install does. Both keep their default durability: Postfix fsyncs the queue file before
its 250, Dovecot fsyncs each delivered maildir file (mail_fsync = optimized).

Run: `.venv/bin/python -m bench.baseline_postfix_dovecot` from the repository root (as root).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.dovecot import (
    Accounts,
    base_conf,
    package_installed,
    run_command,
    spawn_daemon,
    static_userdb,
    wait_gone,
)
from bench.smtp_load import LoadResult, make_messages, send_load

PACKAGES = ("postfix", "dovecot-lmtpd", "dovecot-imapd")
POSTFIX_DEBCONF = "postfix postfix/main_mailer_type select No configuration\n"
MAIL_USER, MAIL_GROUP = "nobody", "nogroup"
SENDER = "loadgen@client.test"


def ensure_packages() -> None:
    """apt-get install Postfix and Dovecot's LMTP server if missing (Postfix preseeded to no config)."""
    if all(package_installed(p) for p in PACKAGES):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_command("debconf-set-selections", stdin=POSTFIX_DEBCONF)
    run_command("apt-get", "update", env=env)
    run_command("apt-get", "install", "-y", "--no-install-recommends", *PACKAGES, env=env)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spread_subdirectories(directory: Path) -> None:
    """Mark `directory` as a top of a tree (`chattr +T`) so ext4 places each subdirectory in its own
    block group, as a Postfix queue and a mail store in separate trees would be. Best effort."""
    with contextlib.suppress(OSError):
        subprocess.run(["chattr", "+T", str(directory)], capture_output=True, check=False)


def _smtp_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(512).startswith(b"220")
    except OSError:
        return False


def _postfix_main_cf(root: Path, spool: Path, domain: str, addresses: list[str], lmtp_socket: Path) -> str:
    """main.cf: one virtual mailbox domain delivered over LMTP; no relaying, no DNS, no throttles."""
    mailboxes = " ".join(f"{address}=ok" for address in addresses)
    return f"""\
compatibility_level = 3.6
queue_directory = {spool}/queue
data_directory = {spool}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{domain}
mydomain = {domain}
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = inline:{{ {mailboxes} }}
virtual_transport = lmtp:unix:{lmtp_socket}
message_size_limit = 52428800
mailbox_size_limit = 0
virtual_mailbox_limit = 0
biff = no
append_dot_mydomain = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
default_process_limit = 200
in_flow_delay = 0
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_event_limit_exceptions = 127.0.0.0/8
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 1000
smtpd_error_sleep_time = 0
default_destination_concurrency_limit = 20
lmtp_destination_concurrency_limit = 20
lmtp_initial_destination_concurrency = 20
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
"""


_MASTER_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _postfix_master_cf(smtp_port: int) -> str:
    """master.cf: Postfix's stock services, none chrooted, smtpd on 127.0.0.1:<port>."""
    smtpd = f"127.0.0.1:{smtp_port} inet n - n - - smtpd\n"
    return smtpd + _MASTER_SERVICES


def _dovecot_conf(root: Path, mail_root: Path) -> str:
    """dovecot.conf: LMTP only, static users, ~/Maildir, default fsync behaviour, log to a file.

    maildir_very_dirty_syncs (in the shared base) is Dovecot's documented setting for a maildir only
    Dovecot touches: it skips rescanning new/ and cur/ on every delivery and changes no durability.
    """
    accounts = Accounts(MAIL_USER, MAIL_GROUP, "dovenull", "dovecot")
    return (
        base_conf(root, accounts, "lmtp")
        + """\
passdb {
  driver = static
  args = nopassword=y
}
"""
        + static_userdb(accounts, mail_root)
        + """\
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
"""
    )


class PostfixDovecotBaseline:
    """Context manager: Postfix on 127.0.0.1:`smtp_port` accepting `user@domain`, delivering over LMTP
    into Dovecot maildirs under `workdir`.

    `mailboxes` > 1 accepts user0..userN-1 instead; `keep` leaves configs, logs and mail behind;
    `spread` puts the Postfix queue and the mail store in separate ext4 block groups (see README).
    """

    def __init__(
        self,
        workdir: Path,
        smtp_port: int,
        domain: str = "bench.test",
        user: str = "bench",
        *,
        keep: bool = False,
        mailboxes: int = 1,
        spread: bool = True,
    ) -> None:
        self.workdir = workdir
        self.smtp_port = smtp_port
        self.domain = domain
        self.user = user
        self.keep = keep
        self.spread = spread
        self.postfix_dir = workdir / "postfix"
        self.postfix_spool = workdir / "postfix-spool"
        self.dovecot_dir = workdir / "dovecot"
        self.mail_root = workdir / "mail"
        locals_ = [user] if mailboxes == 1 else [f"{user}{i}" for i in range(mailboxes)]
        self.addresses = [f"{local}@{domain}" for local in locals_]
        self.maildirs = [self.mail_root / local / "Maildir" for local in locals_]
        self._started: list[str] = []

    @property
    def address(self) -> str:
        """The first (with `mailboxes=1` the only) accepted address."""
        return self.addresses[0]

    def recipient(self, index: int) -> str:
        """Round-robin over the accepted addresses; pass as `make_messages(rcpt=...)`."""
        return self.addresses[index % len(self.addresses)]

    @property
    def dovecot_conf(self) -> Path:
        return self.dovecot_dir / "dovecot.conf"

    def __enter__(self) -> PostfixDovecotBaseline:
        ensure_packages()
        try:
            self._write_configs()
            self._start_dovecot()
            self._start_postfix()
            self._wait_smtp(timeout=30)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()
        if not self.keep:
            for path in (self.postfix_dir, self.postfix_spool, self.dovecot_dir, self.mail_root):
                shutil.rmtree(path, ignore_errors=True)

    def delivered_count(self) -> int:
        """Messages delivered: files in every mailbox's new/ and cur/."""
        total = 0
        for maildir in self.maildirs:
            for sub in ("new", "cur"):
                with contextlib.suppress(FileNotFoundError), os.scandir(maildir / sub) as entries:
                    total += sum(1 for _ in entries)
        return total

    def wait_for(self, count: int, timeout: float, interval: float = 0.02) -> float:
        """Block until `count` messages are delivered; return that `time.monotonic()`."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if self.delivered_count() >= count:
                return now
            if now > deadline:
                raise TimeoutError(f"{self.delivered_count()} of {count} delivered after {timeout} s")
            time.sleep(interval)

    def _write_configs(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # the postfix, dovecot and mail users must traverse it
        if self.spread:
            spread_subdirectories(self.workdir)
        for path in (self.postfix_dir, self.postfix_spool / "queue", self.dovecot_dir, self.mail_root):
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        shutil.chown(self.mail_root, MAIL_USER, MAIL_GROUP)
        lmtp_socket = self.dovecot_dir / "run" / "lmtp"
        main_cf = _postfix_main_cf(
            self.postfix_dir, self.postfix_spool, self.domain, self.addresses, lmtp_socket
        )
        (self.postfix_dir / "main.cf").write_text(main_cf)
        (self.postfix_dir / "master.cf").write_text(_postfix_master_cf(self.smtp_port))
        self.dovecot_conf.write_text(_dovecot_conf(self.dovecot_dir, self.mail_root))

    def _start_dovecot(self) -> None:
        self._started.append("dovecot")
        spawn_daemon("dovecot", "-c", str(self.dovecot_conf), log=self.dovecot_dir / "start.log")

    def _start_postfix(self) -> None:
        self._started.append("postfix")
        spawn_daemon("postfix", "-c", str(self.postfix_dir), "start", log=self.postfix_dir / "start.log")

    def _wait_smtp(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not _smtp_ready(self.smtp_port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Postfix did not answer on port {self.smtp_port}; see {self.postfix_dir}")
            time.sleep(0.1)

    def _stop(self) -> None:
        if "postfix" in self._started:
            with contextlib.suppress(RuntimeError, OSError):
                run_command("postfix", "-c", str(self.postfix_dir), "stop")
            wait_gone(self.postfix_spool / "queue" / "pid" / "master.pid", timeout=15)
        if "dovecot" in self._started:
            with contextlib.suppress(RuntimeError, OSError):
                run_command("dovecot", "-c", str(self.dovecot_conf), "stop")
            wait_gone(self.dovecot_dir / "run" / "master.pid", timeout=15)
        self._started.clear()


@dataclass
class BaselineResult:
    """Figures of one baseline run."""

    load: LoadResult
    end_to_end: float
    """Seconds from just before the first connect until the last message was in a maildir."""
    connections: int
    mailboxes: int
    load_average: float
    """1-minute load average just before the run: well above 0 means something else shared the CPUs."""

    @property
    def smtp_rate(self) -> float:
        """Messages per second until the last 250."""
        return self.load.rate

    @property
    def end_to_end_rate(self) -> float:
        """Messages per second until all accepted messages were in the maildirs."""
        return self.load.accepted / self.end_to_end if self.end_to_end > 0 else 0.0


def run_baseline(
    count: int = 2000,
    size: int = 5000,
    connections: int = 20,
    *,
    mailboxes: int = 1,
    warmup: int = 0,
    workdir: Path | None = None,
) -> BaselineResult:
    """Start the pairing, send `count` messages, wait until all are in the maildirs, stop it.

    `warmup` messages are sent and delivered first, untimed. A given `workdir` is kept afterwards.
    Blocking (it runs its own event loop): from async code call it via `asyncio.to_thread`.
    """
    with contextlib.ExitStack() as stack:
        keep = workdir is not None
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pf-dc-")))
        baseline = PostfixDovecotBaseline(workdir, free_port(), keep=keep, mailboxes=mailboxes)
        messages = make_messages(count, size, baseline.recipient, SENDER)
        warm = make_messages(warmup, size, baseline.recipient, SENDER, seed=2)
        stack.enter_context(baseline)
        if warm:
            asyncio.run(send_load("127.0.0.1", baseline.smtp_port, warm, connections, max_seconds=600))
            baseline.wait_for(warmup, timeout=120)
        load_average = os.getloadavg()[0]
        load = asyncio.run(send_load("127.0.0.1", baseline.smtp_port, messages, connections, max_seconds=600))
        done = baseline.wait_for(warmup + load.accepted, timeout=120 + count / 10)
        return BaselineResult(load, done - load.started, connections, mailboxes, load_average)


def report(result: BaselineResult) -> str:
    """Human-readable summary of a baseline run."""
    load = result.load
    p50, p99 = load.percentile(50) * 1000, load.percentile(99) * 1000
    return "\n".join(
        [
            f"Postfix -> LMTP -> Dovecot maildir: {load.sent} messages, {result.connections} connections, "
            f"{result.mailboxes} mailbox(es)",
            f"  accepted {load.accepted}, rejected {load.rejected}",
            f"  SMTP acceptance: {result.smtp_rate:7.1f} msg/s ({load.elapsed:.3f} s to the last 250)",
            f"  end to end:      {result.end_to_end_rate:7.1f} msg/s ({result.end_to_end:.3f} s to the maildir)",
            f"  latency MAIL -> 250 of DATA: p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            f"  load generator CPU {load.client_cpu:.2f} s; load average before the run {result.load_average:.2f}",
            *(f"  error: {error}" for error in load.errors[:5]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: run the baseline once and print its rates."""
    parser = argparse.ArgumentParser(description="Postfix -> LMTP -> Dovecot maildir baseline (run as root).")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=5000, help="approximate message size in bytes")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--mailboxes", type=int, default=1, help="spread messages over this many users")
    parser.add_argument("--warmup", type=int, default=0, help="messages sent and delivered before timing")
    parser.add_argument("--workdir", type=Path, help="keep configs, logs and maildirs here")
    args = parser.parse_args(argv)
    result = run_baseline(
        args.messages,
        args.size,
        args.connections,
        mailboxes=args.mailboxes,
        warmup=args.warmup,
        workdir=args.workdir,
    )
    print(report(result))


if __name__ == "__main__":
    main()
