"""IMAP serving speed against Dovecot, idle connections' memory, and delivery to an IDLE client.

Run: .venv/bin/python -m bench.imap_fetch [--database DSN] [--messages 1000] [--idle 10000] [--deliveries 200]

1. The same 1,000 messages of about 2 KB are APPENDed to mailservice and to Dovecot (Debian's
   dovecot-imapd as a throwaway instance, bench/dovecot.py; default settings, maildir). Then, on one
   logged-in connection to each with INBOX EXAMINEd, each FETCH below is timed from the command to the
   tagged OK with all its data read, five times, alternating servers; the median is printed for both
   with their ratio, and the first header sync apart (before any server has kept its answers).
   connect+LOGIN is timed the same way (median of five rounds of 20 logins each).
   Targets: BODY.PEEK[] and ENVELOPE within 2x of Dovecot, (UID FLAGS) within 3x, the header sync
   within 1.5x, connect+LOGIN no slower.
2. 10,000 connections log in (500 at a time), SELECT INBOX and IDLE; the server's resident memory is
   read from /proc before and with them (target < 400 MB).
3. One more client IDLEs on another mailbox while messages are delivered to it over SMTP one at a
   time; the time from starting the SMTP transaction to `* N EXISTS` arriving is recorded, before the
   IDLE connections open (the machine's own latency) and while they stay open (target p99 < 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import resource
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib

from bench.baseline_postfix_dovecot import spread_subdirectories
from bench.dovecot import DovecotImap
from bench.imap_wire import ImapWire, quote
from bench.mailservice_process import BENCH_SERVER_ENV, MailserviceProcess, free_port
from bench.smtp_load import make_messages

ROUNDS = 5
LOGINS_PER_ROUND = 20
FETCHES = [
    ("FETCH 1:* BODY.PEEK[]", 2.0),
    ("FETCH 1:* ENVELOPE", 2.0),
    ("FETCH 1:* (UID FLAGS)", 3.0),
    (
        "UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)])",
        1.5,
    ),
]


@dataclass(frozen=True)
class Side:
    """One server under test: where to log in and which process to weigh."""

    name: str
    port: int
    user: str
    password: str
    pid: int | None = None


class FastReader:
    """Reads a whole tagged answer with as little client work as possible (no parsing): the client
    costs the same for both servers, so it should cost little."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counter = 0
        self.read_until(b"* OK")

    def command(self, text: str) -> bytes:
        self.counter += 1
        tag = b"F%d " % self.counter
        self.sock.sendall(tag + text.encode() + b"\r\n")
        answer = self.read_until(tag)
        if not answer.startswith(tag + b"OK", _last_line_start(answer)):
            raise RuntimeError(f"{text!r}: {answer[_last_line_start(answer) :]!r}")
        return answer

    def read_until(self, start: bytes) -> bytes:
        """Read until a whole line that starts with `start` has arrived (the messages here never
        contain such a line)."""
        buffer = bytearray()
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            buffer += chunk
            if buffer.endswith(b"\r\n") and buffer.startswith(start, _last_line_start(buffer)):
                return bytes(buffer)

    def close(self) -> None:
        self.sock.close()


def _last_line_start(data: bytes | bytearray) -> int:
    return data.rfind(b"\n", 0, len(data) - 1) + 1


def logged_in(side: Side) -> FastReader:
    reader = FastReader(side.port)
    reader.command(f"LOGIN {quote(side.user)} {quote(side.password)}")
    return reader


def load(side: Side, raws: list[bytes]) -> None:
    with ImapWire("127.0.0.1", side.port) as wire:
        wire.login(side.user, side.password)
        for raw in raws:
            wire.append("INBOX", raw)
        wire.command("LOGOUT")


def timed_command(reader: FastReader, command: str) -> float:
    started = time.perf_counter()
    reader.command(command)
    return time.perf_counter() - started


def fetch_medians(
    sides: list[Side], commands: list[str] | None = None, firsts: dict[str, list[float]] | None = None
) -> dict[str, list[float]]:
    """Median seconds of each command (the FETCHes by default) on each side, alternating sides round
    by round; the seconds of each command's first run go to `firsts` when given."""
    readers = [logged_in(side) for side in sides]
    for reader in readers:
        reader.command("EXAMINE INBOX")
        reader.command("FETCH 1:* (UID FLAGS ENVELOPE BODY.PEEK[])")  # warm caches on both sides once
    results = {}
    for command in commands if commands is not None else [command for command, _ in FETCHES]:
        samples: list[list[float]] = [[] for _ in sides]
        if firsts is not None:
            firsts[command] = [timed_command(reader, command) for reader in readers]
        for _ in range(ROUNDS):
            for index, reader in enumerate(readers):
                samples[index].append(timed_command(reader, command))
        results[command] = [statistics.median(s) for s in samples]
    for reader in readers:
        reader.close()
    return results


def login_medians(sides: list[Side]) -> list[float]:
    """Median over five rounds of the mean connect+LOGIN time of 20 sequential logins."""
    samples: list[list[float]] = [[] for _ in sides]
    for _ in range(ROUNDS):
        for index, side in enumerate(sides):
            total = 0.0
            for _ in range(LOGINS_PER_ROUND):
                started = time.perf_counter()
                reader = logged_in(side)
                total += time.perf_counter() - started
                reader.close()
            samples[index].append(total / LOGINS_PER_ROUND)
    return [statistics.median(s) for s in samples]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _idle_connection(side: Side) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", side.port)
    await reader.readline()
    writer.write(
        f"a LOGIN {quote(side.user)} {quote(side.password)}\r\nb SELECT INBOX\r\nc IDLE\r\n".encode()
    )
    while not (line := await reader.readline()).startswith(b"+"):
        if not line or line.startswith((b"a NO", b"a BAD", b"b NO", b"b BAD", b"c NO", b"c BAD")):
            raise RuntimeError(f"IDLE refused: {line!r}")
    return reader, writer


IDLE_BATCH = 500


async def open_idle(side: Side, connections: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """`connections` clients in IDLE, logged in IDLE_BATCH at a time."""
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for start in range(0, connections, IDLE_BATCH):
        batch = min(IDLE_BATCH, connections - start)
        opened += await asyncio.gather(*(_idle_connection(side) for _ in range(batch)))
    return opened


def raise_client_open_files(connections: int) -> None:
    """The client holds every IDLE connection open at once: lift its soft open-file limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < connections + 100:
        raise SystemExit(f"the hard open-file limit ({hard}) is too low for {connections} connections")


def idle_memory_and_latency(
    idle_side: Side, latency_side: Side, smtp_port: int, connections: int, deliveries: int
) -> tuple[int, int, list[float], list[float]]:
    """Server RSS before and with `connections` clients in IDLE, and delivery -> EXISTS latencies
    before they open and with them open. The IDLE clients are held by a process of their own, so
    that the measuring client's event loop and garbage collector do not carry them."""
    assert idle_side.pid is not None
    pid = idle_side.pid
    started = cpu_seconds(pid)
    quiet = asyncio.run(exists_latencies(latency_side, smtp_port, latency_side.user, deliveries))
    quiet_cpu = (cpu_seconds(pid) - started) / deliveries
    before = rss_bytes(pid)
    ours, theirs = multiprocessing.Pipe()
    holder = multiprocessing.get_context("spawn").Process(
        target=hold_idle, args=(idle_side, connections, theirs), daemon=True
    )
    holder.start()
    try:
        if not ours.poll(600) or ours.recv() != connections:
            raise RuntimeError("the IDLE connections did not open")
        time.sleep(1.0)  # let the server settle: nothing to synchronise with, only a reading to take
        during = rss_bytes(pid)
        started = cpu_seconds(pid)
        latencies = asyncio.run(exists_latencies(latency_side, smtp_port, latency_side.user, deliveries))
        print(
            f"server CPU per delivery (main process): {quiet_cpu * 1000:.2f} ms before the IDLE connections, "
            f"{(cpu_seconds(pid) - started) / deliveries * 1000:.2f} ms with them"
        )
    finally:
        ours.send("close")
        holder.join(60)
    return before, during, quiet, latencies


def hold_idle(side: Side, connections: int, pipe: multiprocessing.connection.Connection) -> None:
    """In a process of its own: open `connections` IDLE clients, say how many, hold them until told."""
    raise_client_open_files(connections)

    async def hold() -> None:
        opened = await open_idle(side, connections)
        pipe.send(len(opened))
        await asyncio.to_thread(pipe.recv)
        for _, writer in opened:
            writer.close()

    asyncio.run(hold())


async def exists_latencies(side: Side, smtp_port: int, address: str, count: int) -> list[float]:
    """Seconds from starting an SMTP delivery to `* N EXISTS` at an IDLE client, `count` times."""
    reader, writer = await _idle_connection(side)
    raws = [raw for _, _, raw in make_messages(count, 2000, address, "load@example.org", seed=3)]
    latencies = []
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port) as smtp:
        exists = await _exists_count(side)
        for raw in raws:
            started = time.perf_counter()
            await smtp.sendmail("load@example.org", [address], raw)
            exists += 1
            while not (line := await reader.readline()).startswith(b"* %d EXISTS" % exists):
                if not line:
                    raise RuntimeError("IDLE connection closed")
            latencies.append(time.perf_counter() - started)
    writer.close()
    return latencies


async def _exists_count(side: Side) -> int:
    reader = await asyncio.to_thread(logged_in, side)
    answer = await asyncio.to_thread(reader.command, "EXAMINE INBOX")
    reader.close()
    for line in answer.split(b"\r\n"):
        if line.endswith(b" EXISTS"):
            return int(line.split()[1])
    raise RuntimeError("no EXISTS in EXAMINE")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report_pair(label: str, ours: float, dovecot: float, limit: float | None) -> str:
    ratio = ours / dovecot
    verdict = "" if limit is None else f" (target <= {limit:g}x: {'met' if ratio <= limit else 'NOT met'})"
    figures = f"mailservice {ours * 1000:9.2f} ms   dovecot {dovecot * 1000:9.2f} ms"
    return f"{label}\n    {figures}   ratio {ratio:.2f}x{verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="DATABASE_DSN for mailservice (default: a new SQLite file)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=200)
    args = parser.parse_args()
    raise_client_open_files(args.idle)
    print(f"load average before: {os.getloadavg()} (a busy machine skews both sides)")
    with bench_workdir("bench-imap-") as workdir:
        run(workdir, args.database, args.messages, args.idle, args.deliveries)


@contextmanager
def bench_workdir(prefix: str) -> Iterator[Path]:
    """A temporary directory for mailservice and Dovecot, removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)  # Dovecot's mail and login users must traverse it
    spread_subdirectories(workdir)
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _server_env(idle: int) -> dict[str, str]:
    """BENCH_SERVER_ENV, with room for every IDLE connection plus the measuring ones."""
    return {**BENCH_SERVER_ENV, "IMAP_MAX_CONNECTIONS": str(max(1000, idle + 100))}


def run(workdir: Path, database: str | None, count: int, idle: int, deliveries: int) -> None:
    dsn = database or str(workdir / "ours" / "data" / "mailservice.db")
    with (
        MailserviceProcess(workdir / "ours", dsn, extra_env=_server_env(idle)) as server,
        DovecotImap(workdir / "dovecot", free_port(), user="bench") as dovecot,
    ):
        fill, idle_box, latency_box = server.paid_access(3)
        assert server.process is not None
        ours = Side(
            "mailservice", server.imap_port, str(fill["email"]), str(fill["password"]), server.process.pid
        )
        theirs = Side("dovecot", dovecot.port, dovecot.user, dovecot.password)
        raws = [raw for _, _, raw in make_messages(count, 2000, "reader@bench.test", "load@example.org")]
        for side in (ours, theirs):
            load(side, raws)
        backend = "postgresql" if database else "sqlite"
        print(f"{count} messages of ~2 KB (same bytes in both); mailservice on {backend}; median of {ROUNDS}")
        firsts: dict[str, list[float]] = {}
        medians = fetch_medians([ours, theirs], firsts=firsts)
        for command, limit in FETCHES:
            print(report_pair(command, medians[command][0], medians[command][1], limit))
        header_sync = FETCHES[-1][0]
        print(report_pair("    its first run", firsts[header_sync][0], firsts[header_sync][1], None))
        login = login_medians([ours, theirs])
        print(report_pair("connect+LOGIN", login[0], login[1], 1.0))

        idle_side = Side(
            "mailservice", server.imap_port, str(idle_box["email"]), str(idle_box["password"]), ours.pid
        )
        latency_side = Side(
            "mailservice", server.imap_port, str(latency_box["email"]), str(latency_box["password"])
        )
        print(f"load average before the IDLE connections: {os.getloadavg()}")
        before, during, quiet, latencies = idle_memory_and_latency(
            idle_side, latency_side, server.smtp_port, idle, deliveries
        )
        print(
            f"{idle} IDLE connections: server RSS {before / 2**20:.1f} MiB before, {during / 2**20:.1f} MiB with "
            f"them (target < 400 MB: {'met' if during < 400e6 else 'NOT met'})"
        )
        print(
            f"SMTP delivery -> * N EXISTS at an IDLE client before them, {deliveries} deliveries: "
            f"p50 {percentile(quiet, 50) * 1000:.1f} ms, p99 {percentile(quiet, 99) * 1000:.1f} ms"
        )
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        print(
            f"SMTP delivery -> * N EXISTS at an IDLE client with the {idle} open, {deliveries} deliveries: "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'})"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
