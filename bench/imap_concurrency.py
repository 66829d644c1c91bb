"""IMAP writes under concurrency against Dovecot: commands/s, write latency, and view consistency.

Run: .venv/bin/python -m bench.imap_concurrency [--clients 10 50] [--seconds 30]
        [--backends sqlite postgresql two-nodes] [--postgres postgresql://postgres@127.0.0.1:5432]
        [--checkpoint 5]

For each backend and client count, N clients log in as one user on mailservice and then on Dovecot
(Debian's dovecot-imapd as a throwaway instance, bench/dovecot.py) and for the set time each repeats a
seeded random mix of SELECT, FETCH, STORE, EXPUNGE, APPEND and COPY on three shared mailboxes, one
command at a time. Both servers get the same seeds, so the same mix. With `two-nodes` two mailservice
processes share one PostgreSQL database and the clients are split between them.

Each client keeps its view of the selected mailbox (sequence number -> UID) from what the server
sends (EXISTS, EXPUNGE, FETCH with UID) and counts a view error when the server contradicts it: a
sequence number whose UID changes without an EXPUNGE, an EXPUNGE or FETCH past the end of the view,
EXISTS going down, or UIDs out of order. Every `--checkpoint` seconds all clients pause; each sends
NOOP and `FETCH 1:* (UID)`, and its view must then equal what a fresh connection sees in that mailbox.
Time spent in checkpoints is not counted in commands/s.

Printed per server: commands/s, median and mean STORE, EXPUNGE and APPEND latency (command sent to
tagged reply read) with their 90th and 99th percentiles, view errors, NO replies; for mailservice also
the CPU time its processes used per command (from /proc, less sensitive than the rest to other work on
the machine); then mailservice/Dovecot ratios against the targets (commands/s >= 1.0x, median
STORE/EXPUNGE/APPEND <= 2x, zero view errors).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.dovecot import DovecotImap
from bench.imap_fetch import bench_workdir
from bench.imap_wire import ImapWire, quote
from bench.mailservice_process import BENCH_SERVER_ENV, MailserviceProcess, free_port
from bench.smtp_load import make_messages

MAILBOXES = ("INBOX", "Shared-A", "Shared-B")
SEEDED_MESSAGES = 100
"""Messages in each mailbox when the load starts."""
TARGET_SIZE = 150
"""Above this many messages a client marks messages \\Deleted more often than it adds them."""
MIX = {"FETCH": 30, "STORE": 25, "APPEND": 14, "EXPUNGE": 10, "COPY": 11, "SELECT": 10}
TIMED = ("STORE", "EXPUNGE", "APPEND")
KEYWORDS = ("$Label1", "$Label2", "\\Flagged", "\\Answered")

_FETCH_UID = re.compile(rb"^\* (\d+) FETCH \(.*?\bUID (\d+)")
_FETCH_ANY = re.compile(rb"^\* (\d+) FETCH ")
_LITERAL_END = re.compile(rb"\{(\d+)\}\r\n$")


@dataclass(frozen=True)
class Endpoint:
    port: int
    user: str
    password: str


@dataclass
class Tally:
    """What the clients of one run measured."""

    commands: int = 0
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    view_errors: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    server_cpu: float | None = None
    """Seconds of CPU the server's processes used during the load (mailservice only)."""
    client_cpu: float = 0.0
    """Seconds of CPU this process (the clients) used during the load: the load generator's share of
    the machine, which bounds what any server can reach on it."""

    def view_error(self, kind: str, detail: str) -> None:
        self.view_errors[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {detail}")

    @property
    def rate(self) -> float:
        return self.commands / self.seconds if self.seconds else 0.0


class ImapClient:
    """One asyncio IMAP connection that tracks the sequence number -> UID view of its mailbox."""

    def __init__(self, name: str, tally: Tally) -> None:
        self.name = name
        self.tally = tally
        self.view: list[int | None] = []
        self.selected: str | None = None
        self.counter = 0
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def connect(self, endpoint: Endpoint) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
        await self.reader.readline()
        await self.command(f"LOGIN {quote(endpoint.user)} {quote(endpoint.password)}")

    async def close(self) -> None:
        self.writer.close()
        with suppress(OSError):
            await self.writer.wait_closed()

    async def command(self, text: str, literal: bytes | None = None) -> bytes:
        """Send one command (with a synchronising literal when given); returns the tagged line."""
        self.counter += 1
        tag = b"c%d" % self.counter
        if literal is None:
            self.writer.write(tag + b" " + text.encode() + b"\r\n")
        else:
            self.writer.write(tag + b" " + text.encode() + b" {%d}\r\n" % len(literal))
            line = await self._read_line()
            if not line.startswith(b"+"):
                self._take_untagged(line)
                raise RuntimeError(f"{self.name}: literal refused: {line!r}")
            self.writer.write(literal + b"\r\n")
        while True:
            line = await self._read_line()
            if line.startswith(tag + b" "):
                return line
            self._take_untagged(line)

    async def _read_line(self) -> bytes:
        line = await self.reader.readline()
        if not line:
            raise ConnectionError(f"{self.name}: connection closed")
        while (match := _LITERAL_END.search(line)) is not None:
            line += await self.reader.readexactly(int(match.group(1)))
            line += await self.reader.readline()
        return line

    def _take_untagged(self, line: bytes) -> None:
        if line.startswith(b"* BYE"):
            raise ConnectionError(f"{self.name}: {line!r}")
        if self.selected is None or not line.startswith(b"* "):
            return
        words = line.split(b" ", 3)
        if len(words) >= 3 and words[2].rstrip(b"\r\n") == b"EXISTS":
            self._exists(int(words[1]))
        elif len(words) >= 3 and words[2].rstrip(b"\r\n") == b"EXPUNGE":
            self._expunge(int(words[1]))
        elif (match := _FETCH_UID.match(line)) is not None:
            self._fetched(int(match.group(1)), int(match.group(2)))
        elif (match := _FETCH_ANY.match(line)) is not None and int(match.group(1)) > len(self.view):
            self.tally.view_error("FETCH past the end", f"{self.name} {line[:60]!r} view {len(self.view)}")

    def _exists(self, count: int) -> None:
        if count < len(self.view):
            self.tally.view_error("EXISTS went down", f"{self.name} {len(self.view)} -> {count}")
            del self.view[count:]
        self.view.extend([None] * (count - len(self.view)))

    def _expunge(self, number: int) -> None:
        if not 1 <= number <= len(self.view):
            self.tally.view_error("EXPUNGE past the end", f"{self.name} {number} of {len(self.view)}")
            return
        del self.view[number - 1]

    def _fetched(self, number: int, uid: int) -> None:
        if number > len(self.view):
            self.tally.view_error("FETCH past the end", f"{self.name} seq {number} of {len(self.view)}")
            return
        known = self.view[number - 1]
        if known is not None and known != uid:
            self.tally.view_error(
                "UID changed without EXPUNGE", f"{self.name} {self.selected} seq {number}: {known} -> {uid}"
            )
        self.view[number - 1] = uid
        if not self._ordered_around(number - 1):
            self.tally.view_error("UIDs out of order", f"{self.name} seq {number} uid {uid}")

    def _ordered_around(self, index: int) -> bool:
        uid = self.view[index]
        assert uid is not None
        before = next((u for u in reversed(self.view[:index]) if u is not None), None)
        after = next((u for u in self.view[index + 1 :] if u is not None), None)
        return (before is None or before < uid) and (after is None or uid < after)

    async def select(self, mailbox: str) -> None:
        self.selected = mailbox
        self.view = []
        await self.command(f"SELECT {quote(mailbox)}")

    def known_uids(self) -> list[int]:
        return [uid for uid in self.view if uid is not None]


class Worker:
    """One client's random mix of commands."""

    def __init__(
        self, client: ImapClient, seed: int, messages: Sequence[bytes], mix: dict[str, int] | None = None
    ) -> None:
        self.client = client
        self.random = random.Random(seed)
        self.messages = messages
        self.commands = list(mix or MIX)
        self.weights = list((mix or MIX).values())

    async def step(self) -> None:
        kind = self.random.choices(self.commands, self.weights)[0]
        started = time.perf_counter()
        tagged = await getattr(self, f"_{kind.lower()}")()
        elapsed = time.perf_counter() - started
        tally = self.client.tally
        tally.commands += 1
        if kind in TIMED:
            tally.latencies[kind].append(elapsed)
        if tagged.split(b" ", 2)[1:2] != [b"OK"]:
            tally.refusals[f"{kind} {tagged.split(b' ', 2)[1].decode(errors='replace')}"] += 1

    def _message_number(self) -> int:
        return self.random.randint(1, max(1, len(self.client.view)))

    async def _select(self) -> bytes:
        mailbox = self.random.choice(MAILBOXES)
        self.client.selected = mailbox
        self.client.view = []
        return await self.client.command(f"SELECT {quote(mailbox)}")

    async def _fetch(self) -> bytes:
        first = self._message_number()
        last = min(len(self.client.view), first + self.random.randint(0, 20))
        if last < first:
            return await self.client.command("NOOP")
        return await self.client.command(f"FETCH {first}:{last} (UID FLAGS)")

    async def _store(self) -> bytes:
        if not self.client.view:
            return await self.client.command("NOOP")
        crowded = len(self.client.view) > TARGET_SIZE
        flag = "\\Deleted" if self.random.random() < (0.5 if crowded else 0.2) else None
        flag = flag or self.random.choice(KEYWORDS)
        sign = "+" if flag == "\\Deleted" or self.random.random() < 0.6 else "-"
        number = self._message_number()
        if self.random.random() < 0.5:
            return await self.client.command(f"STORE {number} {sign}FLAGS ({flag})")
        return await self.client.command(f"UID STORE {self._some_uid()} {sign}FLAGS ({flag})")

    def _some_uid(self) -> int:
        uids = self.client.known_uids()
        return self.random.choice(uids) if uids else 1

    async def _noop(self) -> bytes:
        return await self.client.command("NOOP")

    async def _status(self) -> bytes:
        """Not in the mix: what a client polling its other folders sends (bench/imap_command_cpu.py)."""
        mailbox = self.random.choice(MAILBOXES)
        return await self.client.command(f"STATUS {quote(mailbox)} (MESSAGES UNSEEN RECENT UIDNEXT)")

    async def _expunge(self) -> bytes:
        return await self.client.command("EXPUNGE")

    async def _append(self) -> bytes:
        mailbox = self.random.choice(MAILBOXES)
        raw = self.random.choice(self.messages)
        return await self.client.command(f"APPEND {quote(mailbox)} (\\Seen)", literal=raw)

    async def _copy(self) -> bytes:
        if not self.client.view:
            return await self.client.command("NOOP")
        first = self._message_number()
        last = min(len(self.client.view), first + self.random.randint(0, 2))
        target = self.random.choice([m for m in MAILBOXES if m != self.client.selected])
        return await self.client.command(f"COPY {first}:{last} {quote(target)}")


async def checkpoint(clients: list[ImapClient], endpoints: list[Endpoint], tally: Tally) -> None:
    """With every client paused: each one's view after NOOP and FETCH 1:* (UID) must equal a fresh
    connection's view of the same mailbox."""
    for client in clients:
        await client.command("NOOP")
        if client.view:
            await client.command("FETCH 1:* (UID)")
    truth = await asyncio.to_thread(server_views, endpoints[0])
    for client in clients:
        assert client.selected is not None
        if client.known_uids() != truth[client.selected] or None in client.view:
            tally.view_error(
                "view differs from the server",
                f"{client.name} {client.selected}: {len(client.view)} vs {len(truth[client.selected])}",
            )


def server_views(endpoint: Endpoint) -> dict[str, list[int]]:
    """Each mailbox's UIDs in sequence order, as a new connection sees them."""
    views = {}
    with ImapWire("127.0.0.1", endpoint.port) as wire:
        wire.login(endpoint.user, endpoint.password)
        for mailbox in MAILBOXES:
            wire.command(f"EXAMINE {quote(mailbox)}")
            answer = wire.command("FETCH 1:* (UID)", check=False)
            pairs = sorted(
                (int(m.group(1)), int(m.group(2)))
                for line in answer.lines
                if (m := _FETCH_UID.match(line)) is not None
            )
            views[mailbox] = [uid for _, uid in pairs]
        wire.command("LOGOUT")
    return views


async def run_load(
    endpoints: list[Endpoint],
    clients: int,
    seconds: float,
    checkpoint_every: float,
    messages: list[bytes],
    mix: dict[str, int] | None = None,
) -> Tally:
    """`clients` clients spread over `endpoints`, for `seconds` of load (checkpoints not counted)."""
    tally = Tally()
    own_cpu = time.process_time
    pool = [ImapClient(f"client{i}", tally) for i in range(clients)]
    for index, client in enumerate(pool):
        await client.connect(endpoints[index % len(endpoints)])
        await client.select(MAILBOXES[index % len(MAILBOXES)])
    workers = [Worker(client, seed=index, messages=messages, mix=mix) for index, client in enumerate(pool)]
    remaining = seconds
    while remaining > 0:
        span = min(checkpoint_every, remaining)
        started, cpu_started = time.perf_counter(), own_cpu()
        await asyncio.gather(*(_run_for(worker, started + span) for worker in workers))
        tally.seconds += time.perf_counter() - started
        tally.client_cpu += own_cpu() - cpu_started
        remaining -= span
        await checkpoint(pool, endpoints, tally)
    for client in pool:
        await client.close()
    return tally


async def _run_for(worker: Worker, until: float) -> None:
    while time.perf_counter() < until:
        await worker.step()


def seed_mailboxes(endpoint: Endpoint, messages: list[bytes]) -> None:
    with ImapWire("127.0.0.1", endpoint.port) as wire:
        wire.login(endpoint.user, endpoint.password)
        for mailbox in MAILBOXES:
            if mailbox != "INBOX":
                wire.command(f"CREATE {quote(mailbox)}", check=False)
            for raw in messages[:SEEDED_MESSAGES]:
                wire.append(mailbox, raw)
        wire.command("LOGOUT")


def bench_messages(count: int = 40) -> list[bytes]:
    return [raw for _, _, raw in make_messages(count, 3000, "shared@bench.test", "load@example.org", seed=7)]


def ms(values: list[float], how: str) -> float:
    """`values` (seconds) in milliseconds: their "median", "mean", or a percentile ("p90", "p99")."""
    if not values:
        return float("nan")
    if how == "median":
        return 1000 * statistics.median(values)
    if how == "mean":
        return 1000 * statistics.fmean(values)
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * int(how[1:]) / 100))]


def describe(name: str, tally: Tally) -> str:
    parts = [f"  {name:<12} {tally.rate:8.1f} commands/s ({tally.commands} in {tally.seconds:.1f} s)"]
    for kind in TIMED:
        values = tally.latencies[kind]
        parts.append(
            f"{kind} {ms(values, 'median'):.1f}/{ms(values, 'mean'):.1f} ms"
            f" (p90 {ms(values, 'p90'):.1f}, p99 {ms(values, 'p99'):.1f})"
        )
    parts.append(f"view errors {sum(tally.view_errors.values())}")
    if tally.server_cpu is not None and tally.commands:
        parts.append(f"server cpu {1000 * tally.server_cpu / tally.commands:.2f} ms/command")
    if tally.commands:
        parts.append(f"client cpu {1000 * tally.client_cpu / tally.commands:.2f} ms/command")
    refused = ", ".join(f"{k} {v}" for k, v in sorted(tally.refusals.items()))
    if refused:
        parts.append(f"not OK: {refused}")
    return "   ".join(parts)


TARGET_CLIENTS = (10, 50)
"""The client counts the targets are set for; other counts (one client: the cost of each command
without a queue) are printed for comparison only."""


def compare(ours: Tally, dovecot: Tally, clients: int) -> list[str]:
    rate = ours.rate / dovecot.rate
    if clients not in TARGET_CLIENTS:
        counted = f"{clients} client{'' if clients == 1 else 's'}"
        lines = [f"  ratio commands/s {rate:.2f}x (no target at {counted}; for comparison)"]
    else:
        lines = [f"  ratio commands/s {rate:.2f}x (target >= 1.0x: {'met' if rate >= 1.0 else 'NOT met'})"]
    for kind in TIMED:
        ratio = ms(ours.latencies[kind], "median") / ms(dovecot.latencies[kind], "median")
        mean = ms(ours.latencies[kind], "mean") / ms(dovecot.latencies[kind], "mean")
        verdict = ("met" if ratio <= 2.0 else "NOT met") if clients in TARGET_CLIENTS else "none here"
        tails = ", ".join(
            f"{how} {ms(ours.latencies[kind], how) / ms(dovecot.latencies[kind], how):.2f}x"
            for how in ("p90", "p99")
        )
        lines.append(
            f"  ratio {kind} median {ratio:.2f}x (target <= 2x: {verdict}), mean {mean:.2f}x, {tails}"
        )
    errors = sum(ours.view_errors.values())
    lines.append(f"  view errors {errors} (target 0: {'met' if errors == 0 else 'NOT met'})")
    for example in ours.examples + dovecot.examples:
        lines.append(f"    {example}")
    return lines


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time of processes `pids`, from /proc."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_pair(
    ours: list[Endpoint],
    theirs: Endpoint,
    clients: int,
    seconds: float,
    checkpoint_every: float,
    server_pids: Sequence[int],
) -> list[str]:
    messages = bench_messages()
    before = load_text()
    cpu_before = cpu_seconds(server_pids)
    tally_ours = asyncio.run(run_load(ours, clients, seconds, checkpoint_every, messages))
    tally_ours.server_cpu = cpu_seconds(server_pids) - cpu_before
    tally_theirs = asyncio.run(run_load([theirs], clients, seconds, checkpoint_every, messages))
    return [
        f" {clients} clients ({before} before, {load_text()} after)",
        describe("mailservice", tally_ours),
        describe("dovecot", tally_theirs),
        *compare(tally_ours, tally_theirs, clients),
    ]


def mailservice_nodes(
    stack: ExitStack, workdir: Path, backend: str, postgres: str
) -> tuple[list[MailserviceProcess], str | None]:
    """One or two mailservice processes for `backend`, and the PostgreSQL database made for them."""
    env = BENCH_SERVER_ENV
    if backend == "sqlite":
        dsn = str(workdir / "ours" / "data" / "mailservice.db")
        return [stack.enter_context(MailserviceProcess(workdir / "ours", dsn, extra_env=env))], None
    database = f"bench_imapconc_{uuid.uuid4().hex[:8]}"
    _postgres_command(postgres, f"CREATE DATABASE {database}")
    dsn = f"{postgres.rstrip('/')}/{database}"
    count = 2 if backend == "two-nodes" else 1
    nodes = [
        stack.enter_context(MailserviceProcess(workdir / f"node{i}", dsn, extra_env=env))
        for i in range(count)
    ]
    return nodes, database


def _postgres_command(postgres: str, sql: str) -> None:
    async def execute() -> None:
        connection = await asyncpg.connect(f"{postgres.rstrip('/')}/postgres")
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute())


def run_backend(backend: str, postgres: str, clients: list[int], seconds: float, every: float) -> None:
    for count in clients:
        with bench_workdir("bench-imapconc-") as workdir, ExitStack() as stack:
            nodes, database = mailservice_nodes(stack, workdir, backend, postgres)
            if database is not None:
                stack.callback(
                    _postgres_command, postgres, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                )
                for node in nodes:  # stopped before their database is dropped
                    stack.callback(node.__exit__, None, None, None)
            dovecot = stack.enter_context(DovecotImap(workdir / "dovecot", free_port(), user="bench"))
            access = nodes[0].paid_access(1)[0]
            ours = [Endpoint(node.imap_port, str(access["email"]), str(access["password"])) for node in nodes]
            theirs = Endpoint(dovecot.port, dovecot.user, dovecot.password)
            messages = bench_messages()
            seed_mailboxes(ours[0], messages)
            seed_mailboxes(theirs, messages)
            print(f"{backend}:")
            pids = [node.process.pid for node in nodes if node.process is not None]
            for line in run_pair(ours, theirs, count, seconds, every, pids):
                print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--checkpoint", type=float, default=5.0, help="seconds between view checks")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["sqlite", "postgresql", "two-nodes"],
        choices=["sqlite", "postgresql", "two-nodes"],
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    print(f"{load_text()} before; {args.seconds:g} s per run, checkpoints every {args.checkpoint:g} s")
    for backend in args.backends:
        run_backend(backend, args.postgres, args.clients, args.seconds, args.checkpoint)


if __name__ == "__main__":
    main()
