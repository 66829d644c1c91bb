r"""POP3 serving speed and the memory a large RETR costs, against `mailservice serve`.

Run: .venv/bin/python -m bench.pop3_retr [--database DSN] [--messages 1000] [--size 2000] [--big-mib 25]

1. `--messages` messages of about `--size` bytes are delivered over SMTP to one mailbox. Then, five
   rounds each: connect + USER/PASS + STAT (the login snapshot), LIST + UIDL, and RETR of every message
   on one connection (read to the terminating dot, nothing kept); the median is printed. The first
   RETR pass, which marks every message \Seen, is timed on its own.
2. One message of `--big-mib` MiB is delivered to a second mailbox and RETRieved over a raw socket;
   the server's resident memory (VmRSS from /proc, sampled every 2 ms) is recorded before and at its
   highest during the RETR.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiosmtplib

from bench.mailservice_process import MailserviceProcess, free_port
from bench.smtp_load import make_messages, send_load

ROUNDS = 5


class Pop3:
    """A minimal blocking POP3 client that reads responses into a reused buffer."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buffer = b""
        self.line()

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def command(self, text: str) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        reply = self.line()
        assert reply.startswith(b"+OK"), reply
        return reply

    def multiline(self, text: str) -> int:
        """Send a command; the octets of its body, read to the terminating dot and discarded."""
        self.command(text)
        total = 0
        tail = b""
        while True:
            if not self.buffer:
                self.buffer = self.sock.recv(1 << 20)
            chunk, self.buffer = self.buffer, b""
            window = tail + chunk
            end = window.find(b"\r\n.\r\n") if window else -1
            if window.startswith(b".\r\n") and total == 0:
                self.buffer = window[3:]
                return 0
            if end >= 0:
                total += end + 2 - len(tail)
                self.buffer = window[end + 5 :]
                return total
            total += len(chunk)
            tail = window[-4:]

    def login(self, user: str, password: str) -> None:
        self.command(f"USER {user}")
        self.command(f"PASS {password}")

    def close(self) -> None:
        self.command("QUIT")
        self.sock.close()


def median_seconds(action: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def big_message(address: str, mib: int) -> bytes:
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    body = line * (mib * 1024 * 1024 // len(line))
    head = f"From: big@example.org\r\nTo: {address}\r\nSubject: big\r\n\r\n".encode()
    return head + body


def run(database: str | None, count: int, size: int, big_mib: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pop3-") as workdir:
        pop3_port = free_port()
        dsn = database or str(Path(workdir) / "mailservice.db")
        extra = {"POP3_ADDR": f"127.0.0.1:{pop3_port}", "MAX_MESSAGE_BYTES": str((big_mib + 2) << 20)}
        with MailserviceProcess(Path(workdir), dsn, extra_env=extra) as server:
            assert server.process is not None
            small, large = server.paid_access(2)
            user, password = str(small["email"]), str(small["password"])
            messages = make_messages(count, size, user, "bench@example.org")
            load = asyncio.run(send_load("127.0.0.1", server.smtp_port, messages, connections=4))
            assert load.accepted == count, load.failures[:5]

            def login_stat() -> None:
                client = Pop3(pop3_port)
                client.login(user, password)
                client.command("STAT")
                client.close()

            client = Pop3(pop3_port)
            client.login(user, password)
            listing = median_seconds(lambda: (client.multiline("LIST"), client.multiline("UIDL")))
            octets = [0]

            def retr_all() -> None:
                octets[0] = sum(client.multiline(f"RETR {n}") for n in range(1, count + 1))

            started = time.perf_counter()
            retr_all()
            first = time.perf_counter() - started
            retr = median_seconds(retr_all)
            client.close()
            login = median_seconds(login_stat)
            print(f"{count} messages of ~{size} B, database {'PostgreSQL' if database else 'SQLite'}")
            print(f"connect+USER/PASS+STAT   {login * 1000:8.1f} ms")
            print(f"LIST+UIDL                {listing * 1000:8.1f} ms")
            print(
                f"RETR all, first pass     {first * 1000:8.1f} ms  ({count / first:,.0f} messages/s, marks \\Seen)"
            )
            print(
                f"RETR all, again          {retr * 1000:8.1f} ms  ({count / retr:,.0f} messages/s, "
                f"{octets[0] / retr / 1e6:.1f} MB/s)"
            )

            address, big_password = str(large["email"]), str(large["password"])
            raw = big_message(address, big_mib)
            asyncio.run(
                aiosmtplib.send(
                    raw,
                    sender="big@example.org",
                    recipients=[address],
                    port=server.smtp_port,
                    hostname="127.0.0.1",
                    timeout=120,
                )
            )
            del raw
            pid = server.process.pid
            client = Pop3(pop3_port)
            client.login(address, big_password)
            time.sleep(0.5)
            before = rss_kib(pid)
            peak = [before]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], rss_kib(pid))
                    time.sleep(0.002)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            sent = client.multiline("RETR 1")
            elapsed = time.perf_counter() - started
            done.set()
            sampler.join()
            client.close()
            print(
                f"RETR of {sent / 2**20:.1f} MiB     {elapsed * 1000:8.1f} ms; server RSS {before / 1024:.0f} MiB "
                f"before, +{(peak[0] - before) / 1024:.0f} MiB at its highest"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="PostgreSQL DSN (default: SQLite in a temporary directory)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--big-mib", type=int, default=25)
    arguments = parser.parse_args()
    run(arguments.database, arguments.messages, arguments.size, arguments.big_mib)


if __name__ == "__main__":
    main()
