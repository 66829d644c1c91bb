"""Our server and a throwaway Dovecot side by side, for running Dovecot's imaptest against both.

Run: .venv/bin/python -m bench.imaptest_servers [--database DSN] [--mbox FILE]

Starts `mailservice serve` (SQLite in the work directory unless --database names another) with one
paid mailbox and plaintext login on 127.0.0.1, and Dovecot with one user (bench/dovecot.py); creates
a folder `stress` on each for imaptest's stress mode; prints one imaptest command line per server and
waits for Ctrl-C. With --mbox, writes there an mbox of generated messages whose Message-IDs are unique,
as imaptest's stress mode needs. docs/imap.md ("Compliance suite") says how imaptest is built and run.
"""

from __future__ import annotations

import argparse
import base64
import random
import signal
from pathlib import Path

from bench.dovecot import DovecotImap
from bench.imap_fetch import bench_workdir
from bench.imap_wire import ImapWire
from bench.mailservice_process import BENCH_SERVER_ENV, MailserviceProcess, free_port

STRESS_FOLDER = "stress"
NAMES = ("alice@example.com", '"Bob B" <bob@example.org>', "carol@example.net", "Dave <dave@x.test>")
SUBJECTS = ("hello", "Re: hello", "Fwd: report", "=?UTF-8?B?R3LDvMOfZQ==?=", "[list] news", "Re: Re: plan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="database DSN for our server (default: SQLite)")
    parser.add_argument("--mbox", type=Path, help="write a stress mbox here")
    args = parser.parse_args()
    if args.mbox is not None:
        args.mbox.write_text(stress_mbox(120))
    env = {**BENCH_SERVER_ENV, "ALLOW_PLAINTEXT_AUTH": "true"}
    with bench_workdir("imaptest-") as workdir:
        dsn = args.database or f"sqlite+aiosqlite:///{workdir}/mailservice.db"
        port = free_port()
        with (
            MailserviceProcess(workdir / "ours", dsn, extra_env=env) as ours,
            DovecotImap(workdir, port) as dovecot,
        ):
            access = ours.paid_access(1)[0]
            sides = {
                "ours": (ours.imap_port, str(access["username"]), str(access["password"])),
                "dovecot": (port, dovecot.user, dovecot.password),
            }
            for name, (imap_port, user, password) in sides.items():
                with ImapWire("127.0.0.1", imap_port) as wire:
                    wire.login(user, password)
                    wire.command(f"CREATE {STRESS_FOLDER}")
                print(
                    f"{name}: imaptest host=127.0.0.1 port={imap_port} user={user} pass={password}",
                    flush=True,
                )
            stop = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # taken by sigwait, so both servers are stopped
            signal.sigwait(stop)


def stress_mbox(count: int, seed: int = 7) -> str:
    """`count` messages, plain and multipart, some replying to others, each with its own Message-ID."""
    rng = random.Random(seed)
    messages = []
    for n in range(count):
        header = [
            f"From: {rng.choice(NAMES)}",
            f"To: {rng.choice(NAMES)}",
            f"Subject: {rng.choice(SUBJECTS)} {n}",
            f"Date: Mon, {1 + n % 28} Feb 2026 {n % 24:02d}:00:00 +0000",
            f"Message-ID: <stress{n}@imaptest.test>",
        ]
        if n % 3 == 0 and n > 0:
            header += [
                f"In-Reply-To: <stress{n - 3}@imaptest.test>",
                f"References: <stress{n - 3}@imaptest.test>",
            ]
        if n % 4 == 1:
            header += ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="b{n}"']
            attachment = base64.encodebytes(rng.randbytes(300)).decode()
            body = (
                f"--b{n}\nContent-Type: text/plain; charset=us-ascii\n\npart one of {n}\n"
                f"--b{n}\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                f"{attachment}--b{n}--\n"
            )
        else:
            body = "".join(f"line {line} of message {n} {'x' * rng.randrange(60)}\n" for line in range(1, 30))
        messages.append(
            "From sender@imaptest.test Mon Feb  2 10:00:00 2026\n" + "\n".join(header) + "\n\n" + body
        )
    return "\n".join(messages) + "\n"


if __name__ == "__main__":
    main()
