"""A light asyncio SMTP load generator: N connections, one command at a time, no PIPELINING.

Every connection does EHLO once, then MAIL FROM / RCPT TO / DATA per message (a new MAIL starts
the next transaction; RSET only after a refused step), then QUIT. Messages are handed out from
one shared queue, so a slow connection does not leave a straggling tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

Message = tuple[str, str, bytes]
"""(mail_from, rcpt_to, raw RFC 5322 bytes)."""

CONNECTION_LOST = 0
"""Code recorded for a message whose connection failed before a final DATA reply."""

CLIENT_NAME = "loadgen.bench.test"


class SmtpReplyError(Exception):
    """The server answered a session-level command (greeting, EHLO) with an unexpected code."""


@dataclass
class LoadResult:
    """What one `send_load` run measured. Times are `time.monotonic()` values."""

    sent: int
    accepted: int
    rejected: int
    elapsed: float
    """Seconds from just before the first connect to the last final DATA reply."""
    latencies: list[float]
    """Per message, in input order: seconds from MAIL to the final DATA reply (nan if never tried)."""
    failures: list[tuple[int, int]]
    """(message index, reply code) for each message not accepted; code 0 means connection lost."""
    started: float = 0.0
    finished: float = 0.0
    client_cpu: float = 0.0
    """CPU seconds this process used during the run (the load generator's own cost)."""
    errors: list[str] = field(default_factory=list)
    """Connection-level errors (refused connect, bad greeting, dropped connection, timeout)."""

    @property
    def rate(self) -> float:
        """Accepted messages per second."""
        return self.accepted / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100, nearest rank) of accepted messages' latencies, in seconds."""
        failed = {index for index, _ in self.failures}
        values = sorted(v for i, v in enumerate(self.latencies) if i not in failed)
        return nearest_rank(values, q)


def nearest_rank(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list; nan when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def dot_stuff(raw: bytes) -> bytes:
    """DATA payload for `raw`: CRLF line endings, leading dots doubled, closing `.` line."""
    text = raw.replace(b"\r\n", b"\n")
    if text.startswith(b"."):
        text = b"." + text
    text = text.replace(b"\n.", b"\n..").replace(b"\n", b"\r\n")
    if text and not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text + b".\r\n"


@dataclass
class _Run:
    """State shared by the connections of one run."""

    envelopes: list[tuple[bytes, bytes]]
    payloads: list[bytes]
    queue: Iterator[int]
    codes: list[int]
    latencies: list[float]
    finished: float = 0.0
    errors: list[str] = field(default_factory=list)

    def record(self, index: int, code: int, began: float) -> None:
        now = time.monotonic()
        self.codes[index] = code
        self.latencies[index] = now - began
        self.finished = max(self.finished, now)


async def _reply(reader: asyncio.StreamReader) -> int:
    """Read one (possibly multi-line) reply and return its code."""
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionError("connection closed mid-reply")
        if line[3:4] != b"-":
            return int(line[:3])


async def _command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> int:
    writer.write(line)
    return await _reply(reader)


async def _transaction(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, run: _Run, i: int) -> int:
    """One MAIL / RCPT / DATA dialogue; returns the final code (of DATA or of the refused step)."""
    sender, rcpt = run.envelopes[i]
    code = await _command(reader, writer, b"MAIL FROM:<" + sender + b">\r\n")
    if code != 250:
        return code
    code = await _command(reader, writer, b"RCPT TO:<" + rcpt + b">\r\n")
    if code in (250, 251):
        code = await _command(reader, writer, b"DATA\r\n")
        if code == 354:
            writer.write(run.payloads[i])
            await writer.drain()
            return await _reply(reader)
    await _command(reader, writer, b"RSET\r\n")
    return code


async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if (code := await _reply(reader)) != 220:
        raise SmtpReplyError(f"greeting {code}")
    if await _command(reader, writer, b"EHLO " + CLIENT_NAME.encode() + b"\r\n") == 250:
        return
    if (code := await _command(reader, writer, b"HELO " + CLIENT_NAME.encode() + b"\r\n")) != 250:
        raise SmtpReplyError(f"HELO {code}")


async def _connection(host: str, port: int, run: _Run) -> None:
    """Serve messages from the shared queue over one connection until it is empty."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await _greet(reader, writer)
        for i in run.queue:
            began = time.monotonic()
            try:
                code = await _transaction(reader, writer, run, i)
            except (OSError, ValueError, asyncio.IncompleteReadError):
                run.record(i, CONNECTION_LOST, began)
                raise
            run.record(i, code, began)
        with contextlib.suppress(OSError, ValueError):
            await _command(reader, writer, b"QUIT\r\n")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _guarded(host: str, port: int, run: _Run) -> None:
    try:
        await _connection(host, port, run)
    except (OSError, ValueError, asyncio.IncompleteReadError, SmtpReplyError) as exc:
        run.errors.append(f"{type(exc).__name__}: {exc}")


def _prepare(messages: list[Message]) -> _Run:
    """Encode everything up front so the timed part only writes and reads."""
    return _Run(
        envelopes=[(f.encode(), r.encode()) for f, r, _ in messages],
        payloads=[dot_stuff(raw) for _, _, raw in messages],
        queue=iter(range(len(messages))),
        codes=[CONNECTION_LOST] * len(messages),
        latencies=[math.nan] * len(messages),
    )


async def send_load(
    host: str, port: int, messages: list[Message], connections: int, max_seconds: float | None = None
) -> LoadResult:
    """Send `messages` over `connections` concurrent SMTP connections and time every transaction.

    Past `max_seconds` the run is cut short; messages without a final reply count as lost.
    """
    run = _prepare(messages)
    cpu = time.process_time()
    started = time.monotonic()
    count = max(1, min(connections, len(messages)))
    try:
        async with asyncio.timeout(max_seconds):
            await asyncio.gather(*(_guarded(host, port, run) for _ in range(count)))
    except TimeoutError:
        run.errors.append(f"TimeoutError: run cut short after {max_seconds} s")
    failures = [(i, code) for i, code in enumerate(run.codes) if code != 250]
    return LoadResult(
        sent=len(messages),
        accepted=len(messages) - len(failures),
        rejected=len(failures),
        elapsed=(run.finished or time.monotonic()) - started,
        latencies=run.latencies,
        failures=failures,
        started=started,
        finished=run.finished,
        client_cpu=time.process_time() - cpu,
        errors=run.errors,
    )


# --- message generation ---------------------------------------------------------------------------

_VOCABULARY = """
the of and to in is that for it as was with be by on not he this are or his from at which but
have an they you were her she there would their we him been has when who will more no if out so
said what up its about into than them can only other new some could time these two may then do
first any my now such like our over man me even most made after also did many before must
through back years where much your way well down should because each just those people how too
little state good very make world still own see men work long get here between both life being
under never day same another know while last might us great old year off come since against go
came right used take three meeting invoice shipment report budget schedule review agent mailbox
delivery server request update quarterly draft attached please thanks regards morning tomorrow
project deadline customer account order payment
"""
_FIRST_NAMES = "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil"
_WORDS = _VOCABULARY.split()
_NAMES = _FIRST_NAMES.split()
_EPOCH = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)
_WRAP = 76


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 18))
    return " ".join(words).capitalize() + rng.choice(".....?!")


def _wrap(text: str) -> list[str]:
    """Greedy word wrap at 76 columns."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > _WRAP:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def _paragraphs(rng: random.Random, budget: int) -> list[list[str]]:
    """Wrapped paragraphs totalling about `budget` bytes; now and then a line opens with a dot."""
    paragraphs: list[list[str]] = []
    total = 0
    while total < budget:
        lines = _wrap(" ".join(_sentence(rng) for _ in range(rng.randint(2, 6))))
        if rng.random() < 0.005:
            lines.append("...")
        paragraphs.append(lines)
        total += sum(len(line) + 2 for line in lines) + 2
    return paragraphs


def _headers(i: int, seed: int, mail_from: str, rcpt: str, rng: random.Random) -> list[str]:
    name = rng.choice(_NAMES)
    subject = " ".join(rng.choices(_WORDS, k=rng.randint(3, 8))).capitalize()
    domain = mail_from.rpartition("@")[2] or "bench.test"
    return [
        f"From: {name} <{mail_from}>",
        f"To: <{rcpt}>",
        f"Subject: {subject}",
        f"Date: {format_datetime(_EPOCH + timedelta(seconds=7 * i))}",
        f"Message-ID: <bench.{seed}.{i}.{rng.getrandbits(40):010x}@{domain}>",
        "MIME-Version: 1.0",
    ]


def _plain(paragraphs: list[list[str]]) -> list[str]:
    return "\n\n".join("\n".join(p) for p in paragraphs).split("\n")


def _html(paragraphs: list[list[str]]) -> list[str]:
    lines = ["<html><body>"]
    for paragraph in paragraphs:
        lines += ["<p>", *paragraph, "</p>"]
    return [*lines, "</body></html>"]


def _text_body(rng: random.Random, budget: int) -> list[str]:
    content = ["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit", ""]
    return content + _plain(_paragraphs(rng, budget))


def _alternative_body(rng: random.Random, budget: int, boundary: str) -> list[str]:
    paragraphs = _paragraphs(rng, budget * 9 // 20)
    part = ["Content-Type: text/{}; charset=us-ascii", "Content-Transfer-Encoding: 7bit", ""]
    return [
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        "This is a multi-part message in MIME format.",
        f"--{boundary}",
        part[0].format("plain"),
        *part[1:],
        *_plain(paragraphs),
        f"--{boundary}",
        part[0].format("html"),
        *part[1:],
        *_html(paragraphs),
        f"--{boundary}--",
    ]


def _message(i: int, size: int, seed: int, mail_from: str, rcpt: str, rng: random.Random) -> bytes:
    headers = _headers(i, seed, mail_from, rcpt, rng)
    budget = max(0, size - sum(len(h) + 2 for h in headers) - 220)
    if i % 10 == 7:
        body = _alternative_body(rng, budget, f"=_bench_{seed}_{i}_{rng.getrandbits(32):08x}")
    else:
        body = _text_body(rng, budget)
    return ("\r\n".join(headers + body) + "\r\n").encode("ascii")


def make_messages(
    count: int, size: int, rcpt: str | Callable[[int], str], mail_from: str, seed: int = 1
) -> list[Message]:
    """`count` deterministic RFC 5322 messages of about `size` bytes; every tenth is multipart/alternative."""
    rng = random.Random(seed)
    recipient = (lambda _: rcpt) if isinstance(rcpt, str) else rcpt
    out: list[Message] = []
    for i in range(count):
        to = recipient(i)
        out.append((mail_from, to, _message(i, size, seed, mail_from, to, rng)))
    return out
