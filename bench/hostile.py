"""Legitimate clients while hostile ones hold every listener: latency, success and server memory.

Run: .venv/bin/python -m bench.hostile [--connections 1000] [--hold 30] [--samples 40] [--dsn DSN]

Measures, against a `mailservice serve` process, the latency of three legitimate operations:
IMAP connect + LOGIN + SELECT + FETCH, one SMTP delivery, and HTTP challenge + message list. First
alone, then while `--connections` hostile connections per protocol are held open from 20 loopback
addresses (127.0.0.2 to 127.0.0.21): idle IMAP connections and pre-login APPEND literals, trickling
SMTP DATA, slow HTTP bodies and idle POP3 connections. It prints p50/p99 of each operation alone and
under attack, how many hostile connections the server accepted, and the server's resident memory
before, at its peak during, and after the attack.

Targets: every legitimate operation succeeds; p99 under attack within 3x its unattacked value; RSS
grows by less than 200 MB during the attack and comes back within 50 MB of its start after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import imaplib
import resource
import smtplib
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.mailservice_process import MailserviceProcess, free_port

ATTACKERS = [f"127.0.0.{host}" for host in range(2, 22)]
TRICKLE_SECONDS = 1.0
RSS_SETTLE_SECONDS = 10.0


@dataclass
class Latencies:
    name: str
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Legitimate:
    """One paid mailbox, its credentials and the server's ports."""

    server: MailserviceProcess
    address: str
    password: str
    token: str
    public_key: str = field(
        default_factory=lambda: (
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
            .decode()
        )
    )
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        # A new connection for every request, as a new client opens, without a TLS context each time.
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        self.http = httpx.Client(base_url=self.server.base_url, timeout=30, limits=no_reuse)

    def imap_read(self) -> None:
        with imaplib.IMAP4("127.0.0.1", self.server.imap_port, timeout=30) as client:
            client.login(self.address, self.password)
            client.select("INBOX")
            status, data = client.fetch("1", "(BODY.PEEK[])")
            if status != "OK" or not data:
                raise RuntimeError(f"FETCH {status}")
            client.logout()

    def smtp_deliver(self) -> None:
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=30) as client:
            client.sendmail("bench@example.org", [self.address], b"Subject: legit\r\n\r\nhello\r\n")

    def http_read(self) -> None:
        client = self.http
        client.post("/v1/auth/challenge", json={"public_key": self.public_key}).raise_for_status()
        client.get("/v1/messages", headers={"Authorization": f"Bearer {self.token}"}).raise_for_status()


async def measure(name: str, operation: Callable[[], None], samples: int) -> Latencies:
    result = Latencies(name)
    for _ in range(samples):
        started = time.perf_counter()
        try:
            await asyncio.to_thread(operation)
        except Exception as error:  # every failure is counted and shown, none stops the run
            result.failures.append(
                f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            )
            continue
        result.seconds.append(time.perf_counter() - started)
    return result


async def measure_all(legit: Legitimate, samples: int) -> list[Latencies]:
    return [
        await measure("IMAP login+SELECT+FETCH", legit.imap_read, samples),
        await measure("SMTP delivery", legit.smtp_deliver, samples),
        await measure("HTTP challenge+list", legit.http_read, samples),
    ]


@dataclass
class Attack:
    """Hostile connections held open until `stop` is set; counts what the server let in."""

    server: MailserviceProcess
    pop3_port: int
    target: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    opened: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    expected: int = 0
    all_answered: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, kind: str, accepted: bool) -> None:
        table = self.opened if accepted else self.refused
        table[kind] = table.get(kind, 0) + 1
        if sum(self.opened.values()) + sum(self.refused.values()) >= self.expected:
            self.all_answered.set()

    async def hold(self, kind: str, source: str, port: int, script: Callable[..., Awaitable[bool]]) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 10
            )
        except (OSError, TimeoutError):
            self.count(kind, False)
            return
        try:
            accepted = await script(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            accepted = False
        self.count(kind, accepted)
        try:
            while accepted and not self.stop.is_set() and not reader.at_eof():
                writer.write(b"x")
                with contextlib.suppress(TimeoutError):  # a server that stops reading is a bounded one
                    await asyncio.wait_for(writer.drain(), TRICKLE_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), TRICKLE_SECONDS)
        except OSError:
            self.dropped[kind] = self.dropped.get(kind, 0) + 1  # the server ended it (a timeout, say)
        finally:
            writer.close()

    async def imap_idle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        return (await reader.readline()).startswith(b"* OK")

    async def imap_literal(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if not (await reader.readline()).startswith(b"* OK"):
            return False
        writer.write(b"a APPEND INBOX {26214400}\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), 10)
        return answer.startswith(b"+")  # a server that refuses before "+" holds nothing for it

    async def smtp_data(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if not (await reader.readline()).startswith(b"220"):
            return False
        for command in (
            b"EHLO hostile.test",
            b"MAIL FROM:<x@hostile.test>",
            f"RCPT TO:<{self.target}>".encode(),
        ):
            writer.write(command + b"\r\n")
            await writer.drain()
            while (line := await asyncio.wait_for(reader.readline(), 10))[3:4] == b"-":
                pass
            if not line.startswith(b"2"):
                return False
        writer.write(b"DATA\r\n")
        await writer.drain()
        if not (await asyncio.wait_for(reader.readline(), 10)).startswith(b"354"):
            return False
        writer.write(b"Subject: never ends\r\n\r\n" + b"y" * 65536)
        await writer.drain()
        return True

    async def http_body(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"POST /v1/imap/messages HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: 500\r\n\r\n{"
        )
        await writer.drain()
        return True

    async def pop3_idle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        return (await reader.readline()).startswith(b"+OK")

    def start(self, connections: int) -> list[asyncio.Task[None]]:
        plan = [
            ("imap idle", self.server.imap_port, self.imap_idle, connections // 2),
            (
                "imap pre-login literal",
                self.server.imap_port,
                self.imap_literal,
                connections - connections // 2,
            ),
            ("smtp trickling DATA", self.server.smtp_port, self.smtp_data, connections),
            ("http slow body", self.server.http_port, self.http_body, connections),
            ("pop3 idle", self.pop3_port, self.pop3_idle, connections),
        ]
        tasks = []
        self.expected = sum(count for *_, count in plan)
        for kind, port, script, count in plan:
            for index in range(count):
                source = ATTACKERS[index % len(ATTACKERS)]
                tasks.append(asyncio.create_task(self.hold(kind, source, port, script)))
        return tasks


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found")


async def sample_peak(pid: int, stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mib(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def report(alone: list[Latencies], attacked: list[Latencies]) -> bool:
    met = True
    print(
        f"{'operation':28} {'p50 alone':>10} {'p99 alone':>10} {'p50 attack':>11} {'p99 attack':>11} {'ratio':>6}"
    )
    for before, during in zip(alone, attacked, strict=True):
        ratio = during.percentile(0.99) / before.percentile(0.99)
        print(
            f"{before.name:28} {before.percentile(0.5) * 1e3:9.1f}ms {before.percentile(0.99) * 1e3:9.1f}ms"
            f" {during.percentile(0.5) * 1e3:10.1f}ms {during.percentile(0.99) * 1e3:10.1f}ms {ratio:5.2f}x"
        )
        for failure in (before.failures + during.failures)[:3]:
            print(f"    failure: {failure}")
        met &= not before.failures and not during.failures and ratio <= 3.0
    return met


async def run(connections: int, hold: float, samples: int, dsn: str | None) -> bool:
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    workdir = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    pop3_port = free_port()
    env = {"POP3_ADDR": f"127.0.0.1:{pop3_port}", "LOG_LEVEL": "ERROR"}
    with MailserviceProcess(workdir, dsn or str(workdir / "data" / "mailservice.db"), env) as server:
        assert server.process is not None
        pid = server.process.pid
        [access] = server.paid_access(1)
        legit = Legitimate(server, str(access["email"]), str(access["password"]), str(access["access_token"]))
        legit.smtp_deliver()
        alone = await measure_all(legit, samples)
        rss_start = rss_mib(pid)

        attack = Attack(server, pop3_port, legit.address)
        tasks = attack.start(connections)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(attack.all_answered.wait(), 30)
        peak = [rss_start]
        sampling_done = asyncio.Event()
        sampler = asyncio.create_task(sample_peak(pid, sampling_done, peak))
        attacked_started = time.monotonic()
        attacked = await measure_all(legit, samples)
        remaining = hold - (time.monotonic() - attacked_started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        attack.stop.set()
        _, stuck = await asyncio.wait(tasks, timeout=30)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
        sampling_done.set()
        await sampler
        await asyncio.sleep(RSS_SETTLE_SECONDS)
        rss_after = rss_mib(pid)

    print(
        f"hostile connections per protocol: {connections} from {len(ATTACKERS)} addresses, held {hold:.0f} s"
    )
    for kind in sorted(set(attack.opened) | set(attack.refused)):
        counts = (attack.opened.get(kind, 0), attack.refused.get(kind, 0), attack.dropped.get(kind, 0))
        print(f"  {kind:24} accepted {counts[0]:5}  refused {counts[1]:5}  ended by the server {counts[2]:5}")
    latencies_met = report(alone, attacked)
    growth, returned = peak[0] - rss_start, rss_after - rss_start
    print(
        f"server RSS: start {rss_start:.1f} MiB, peak {peak[0]:.1f} MiB (+{growth:.1f}), after {rss_after:.1f} MiB"
    )
    memory_met = growth < 200 and returned < 50
    print(
        f"targets: latency {'met' if latencies_met else 'MISSED'}, memory {'met' if memory_met else 'MISSED'}"
    )
    return latencies_met and memory_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000, help="hostile connections per protocol")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds the attack is held at least")
    parser.add_argument(
        "--samples", type=int, default=40, help="legitimate operations of each kind per phase"
    )
    parser.add_argument("--dsn", default=None, help="DATABASE_DSN (default: a new SQLite file)")
    options = parser.parse_args()
    asyncio.run(run(options.connections, options.hold, options.samples, options.dsn))


if __name__ == "__main__":
    main()
