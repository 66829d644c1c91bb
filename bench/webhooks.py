"""Webhooks, end to end: from the SMTP 250 to the signed POST arriving at a receiver on this machine.

Run: .venv/bin/python -m bench.webhooks [--database postgresql://postgres@127.0.0.1:5432/test]
     [--fanout-messages 2000] [--fanout-endpoints 100] [--rounds 3] [--fanout-only] [--sender-in-server]

1. latency: one mailbox, one endpoint, messages sent one at a time; the time from each 250 to its POST
   arriving (target: p99 under 50 ms).
2. fan-out, in `--rounds` pairs: the load sent as fast as 20 SMTP connections go to FANOUT_ENDPOINTS
   mailboxes without endpoints (plain ingest, the baseline), then the same load to as many mailboxes
   with one endpoint each. For each: the rate of 250s, the p99 from MAIL to the 250 (a writer held up by
   another process's writes shows there), the serving process's own CPU time per message, and that of
   the server with every process it started (parser workers, the webhook sender process); the ratio of
   the two rates is what fanning out costs, which a busy machine skews less than either rate. The
   backlog (acknowledged but not yet POSTed) is sampled every 0.2 s, so a queue that keeps growing
   shows. `--sender-in-server` sends from the serving process (`WEBHOOK_SENDER_PROCESS=false`), to
   compare.
3. isolation: as 1, while 10 other endpoints never answer (each POST to them times out) and get a steady
   flow of mail; the healthy endpoint's p99 should stay as in 1.
The receiver runs in a thread of this process with its own event loop and verifies nothing (the tests
verify signatures); it records when each POST arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.mailservice_process import MailserviceProcess, free_port
from bench.smtp_load import Message, make_messages, nearest_rank, send_load
from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.db.engine import create_engine
from mailservice.adapters.db.tables import webhook_deliveries

LATENCY_MESSAGES = 200
SLOW_ENDPOINTS = 10
SLOW_FLOW_PER_SECOND = 20
CONNECTIONS = 20
SIZE = 3000


@dataclass
class Receiver:
    """POST /ok/... answers 204 at once and records the arrival; POST /slow/... never answers."""

    arrivals: dict[str, float] = field(default_factory=dict)
    count: int = 0
    port: int = 0
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True).start()
        self._ready.wait(10)

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if b" /slow/" in head.split(b"\r\n", 1)[0]:
                    await asyncio.sleep(3600)
                self._record(body)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _record(self, body: bytes) -> None:
        subject = json.loads(body)["data"].get("subject")
        self.arrivals[subject] = time.monotonic()
        self.count += 1


async def register(base_url: str, token: str, url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        answer = await client.post(
            "/v1/webhooks", json={"url": url}, headers={"Authorization": f"Bearer {token}"}
        )
        answer.raise_for_status()


async def one_at_a_time(port: int, address: str, prefix: str, count: int, receiver: Receiver) -> list[float]:
    """Send `count` messages one after another; the 250-to-POST latency of each, in seconds."""
    acked: dict[str, float] = {}
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as smtp:
        for i in range(count):
            subject = f"{prefix}-{i}"
            message = f"From: a@example.org\r\nTo: {address}\r\nSubject: {subject}\r\n\r\nHello {i}\r\n"
            await smtp.sendmail("a@example.org", [address], message.encode())
            acked[subject] = time.monotonic()
            await asyncio.sleep(0.02)
    deadline = time.monotonic() + 30
    while any(s not in receiver.arrivals for s in acked) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return sorted(receiver.arrivals.get(s, float("inf")) - at for s, at in acked.items())


async def steady_flow(port: int, addresses: list[str], per_second: float, stop: asyncio.Event) -> int:
    sent = 0
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as smtp:
        while not stop.is_set():
            address = addresses[sent % len(addresses)]
            message = f"From: a@example.org\r\nTo: {address}\r\nSubject: slow-{sent}\r\n\r\nHi\r\n"
            await smtp.sendmail("a@example.org", [address], message.encode())
            sent += 1
            await asyncio.sleep(1 / per_second)
    return sent


def describe(name: str, latencies: list[float]) -> str:
    lost = sum(1 for value in latencies if value == float("inf"))
    ms = [value * 1000 for value in latencies if value != float("inf")]
    return (
        f"{name}: {len(ms)} POSTs, 250-to-POST p50 {nearest_rank(ms, 50):.1f} ms, "
        f"p99 {nearest_rank(ms, 99):.1f} ms, max {max(ms):.1f} ms"
        + (f", {lost} never arrived" if lost else "")
    )


async def fan_out(
    server: MailserviceProcess, receiver: Receiver, count: int, endpoints: int, rounds: int
) -> None:
    """`rounds` pairs: the load to mailboxes without endpoints (plain ingest), then the same load to as
    many mailboxes with one endpoint each; the ratio of the two rates is what a fanned-out message costs."""
    plain = [address for address, _ in server.paid_mailboxes(endpoints)]
    hooked = server.paid_mailboxes(endpoints)
    for n, (_, token) in enumerate(hooked):
        await register(server.base_url, token, f"http://127.0.0.1:{receiver.port}/ok/{n}")
    addresses = [address for address, _ in hooked]
    engine = create_engine(async_database_url(server.database_dsn))
    try:
        for round_ in range(rounds):
            seed = 7 + round_
            before = _Cpu.of(server)
            baseline = await send_load("127.0.0.1", server.smtp_port, _load(plain, count, seed), CONNECTIONS)
            middle = _Cpu.of(server)
            fanned = await _fan_out_once(engine, server, receiver, _load(addresses, count, seed))
            after = _Cpu.of(server)
            plain_p99 = 1000 * nearest_rank(sorted(baseline.latencies), 99)
            print(
                f"round {round_ + 1} (load average {os.getloadavg()[0]:.2f}): plain ingest "
                f"{baseline.rate:.0f} msg/s, p99 {plain_p99:.1f} ms, {middle.minus(before, count)}; "
                f"{fanned.describe(endpoints)}, {after.minus(middle, count)}; "
                f"ratio fanned-out / plain {fanned.rate / baseline.rate:.2f}",
                flush=True,
            )
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class _Cpu:
    serving: float
    total: float

    @classmethod
    def of(cls, server: MailserviceProcess) -> _Cpu:
        assert server.process is not None
        return cls(_cpu_seconds(server.process.pid), server_cpu_seconds(server))

    def minus(self, earlier: _Cpu, count: int) -> str:
        serving = 1000 * (self.serving - earlier.serving) / count
        total = 1000 * (self.total - earlier.total) / count
        return f"CPU per message {serving:.2f} ms in the serving process, {total:.2f} ms with its children"


def server_cpu_seconds(server: MailserviceProcess) -> float:
    """CPU time (user and system) used so far by the server and its parser workers, ended threads too."""
    assert server.process is not None
    return sum(_cpu_seconds(pid) for pid in _process_tree(server.process.pid))


def _process_tree(pid: int) -> list[int]:
    """`pid` and every process below it (the parser workers are started from other threads than the
    main one, so /proc's per-thread `children` lists would miss them)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    tree = [pid]
    for candidate in tree:  # grows as children are found
        tree.extend(child for child, parent in parents.items() if parent == candidate)
    return tree


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a worker that ended meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(addresses: list[str], count: int, seed: int) -> list[Message]:
    return make_messages(count, SIZE, lambda i: addresses[i % len(addresses)], "load@example.org", seed=seed)


@dataclass(frozen=True)
class FanOut:
    accepted: int
    rate: float
    p99_ms: float
    posts: int
    seconds: float
    drain_ms: float
    backlog: list[int]

    def describe(self, endpoints: int) -> str:
        return (
            f"fan-out {self.accepted} messages to {endpoints} endpoints at {self.rate:.0f} msg/s (SMTP 250s), "
            f"p99 {self.p99_ms:.1f} ms, "
            f"{self.posts} POSTs in {self.seconds:.1f} s ({self.posts / self.seconds:.0f}/s), "
            f"last POST {self.drain_ms:.0f} ms after the last 250, "
            f"deliveries queued (every 0.2 s): {self.backlog}"
        )


async def _fan_out_once(
    engine: AsyncEngine, server: MailserviceProcess, receiver: Receiver, messages: list[Message]
) -> FanOut:
    before = receiver.count
    backlog: list[int] = []
    sending = asyncio.create_task(send_load("127.0.0.1", server.smtp_port, messages, CONNECTIONS))
    started = time.monotonic()
    while not sending.done():
        await asyncio.sleep(0.2)
        backlog.append(await _queued(engine))
    load = await sending
    acked_at = time.monotonic()
    while receiver.count - before < load.accepted and time.monotonic() - acked_at < 60:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    drained = time.monotonic()
    return FanOut(
        load.accepted,
        load.rate,
        1000 * nearest_rank(sorted(load.latencies), 99),
        receiver.count - before,
        drained - started,
        1000 * (drained - acked_at),
        backlog,
    )


async def _queued(engine: AsyncEngine) -> int:
    query = (
        select(func.count()).select_from(webhook_deliveries).where(webhook_deliveries.c.status == "pending")
    )
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar() or 0)


async def run(
    database: str | None,
    fanout_messages: int,
    fanout_endpoints: int,
    rounds: int,
    fanout_only: bool,
    sender_in_server: bool,
) -> None:
    receiver = Receiver()
    receiver.start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    dsn = database or str(workdir / "data" / "mailservice.db")
    # POP3 on a port of its own too: its default port may be taken by another server on this machine.
    env = {
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "LOG_LEVEL": "ERROR",
        "POP3_ADDR": f"127.0.0.1:{free_port()}",
        "WEBHOOK_SENDER_PROCESS": "false" if sender_in_server else "true",
    }
    with MailserviceProcess(workdir, dsn, extra_env=env) as server:
        [(address, token)] = server.paid_mailboxes(1)
        await register(server.base_url, token, f"http://127.0.0.1:{receiver.port}/ok/latency")
        await one_at_a_time(server.smtp_port, address, "warm", 20, receiver)
        if fanout_only:
            await fan_out(server, receiver, fanout_messages, fanout_endpoints, rounds)
            return
        alone = await one_at_a_time(server.smtp_port, address, "alone", LATENCY_MESSAGES, receiver)
        print(describe("latency, one endpoint", alone), flush=True)

        await fan_out(server, receiver, fanout_messages, fanout_endpoints, rounds)

        slow = server.paid_mailboxes(SLOW_ENDPOINTS)
        for n, (_, slow_token) in enumerate(slow):
            await register(server.base_url, slow_token, f"http://127.0.0.1:{receiver.port}/slow/{n}")
        stop = asyncio.Event()
        flowing = asyncio.create_task(  # noqa: RUF006 -- awaited below
            steady_flow(server.smtp_port, [a for a, _ in slow], SLOW_FLOW_PER_SECOND, stop)
        )
        await asyncio.sleep(12)  # past the 10 s timeout: every slow endpoint holds its full share
        beside = await one_at_a_time(server.smtp_port, address, "beside", LATENCY_MESSAGES, receiver)
        stop.set()
        flowed = await flowing
        print(
            describe(
                f"latency while {SLOW_ENDPOINTS} endpoints time out ({flowed} messages to them)", beside
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="DATABASE_DSN for mailservice (default: a new SQLite file)")
    parser.add_argument("--fanout-messages", type=int, default=2000)
    parser.add_argument("--fanout-endpoints", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="plain-ingest and fan-out pairs")
    parser.add_argument("--fanout-only", action="store_true", help="skip the latency and isolation phases")
    parser.add_argument(
        "--sender-in-server", action="store_true", help="send webhooks from the serving process, to compare"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (a busy machine skews the figures)", flush=True)
    asyncio.run(
        run(
            args.database,
            args.fanout_messages,
            args.fanout_endpoints,
            args.rounds,
            args.fanout_only,
            args.sender_in_server,
        )
    )


if __name__ == "__main__":
    main()
