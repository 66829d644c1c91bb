"""Attacks on the SMTP listener of a served process: each is refused or bounded while real mail gets in.

Every test starts its own `mailservice serve` (SQLite) with the limits it attacks set small, so that the
attack runs in seconds, and checks a legitimate sender (aiosmtplib) delivering during the attack.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from tests.support.agent import claim_and_pay
from tests.support.databases import migrated_sqlite_copy
from tests.support.keys import AgentKey
from tests.support.mail import text_message
from tests.support.polling import until
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
DEADLINE_SECONDS = 30.0


@contextmanager
def served(tmp_path: Path, **env: str) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, migrated_sqlite_copy(tmp_path / "data"), extra_env=env)
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.kill()


async def paid_address(server: ServerProcess) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        details = await claim_and_pay(client, AgentKey.generate())
    return str(details["email"])


def rss_mib(server: ServerProcess, field: str = "VmRSS") -> float:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"{field} not in /proc status")


def reset_peak_rss(server: ServerProcess) -> None:
    assert server.process is not None
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")


async def deliver(server: ServerProcess, address: str, subject: str, source_ip: str = "127.0.0.1") -> str:
    """A legitimate sender: one message with aiosmtplib; returns the reply to DATA."""
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=server.smtp_port, timeout=20, source_address=(source_ip, 0)
    ) as smtp:
        errors, reply = await smtp.sendmail(
            "sender@example.org", [address], text_message(address, subject=subject)
        )
    assert errors == {}
    return reply


class RawClient:
    """An SMTP client that sends what it is told, when it is told: the attacker's side."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, source_ip: str = "127.0.0.1") -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source_ip, 0))
        return cls(reader, writer)

    async def reply(self) -> str:
        lines: list[str] = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), DEADLINE_SECONDS)).decode()
            if not line:
                return "".join(lines)
            lines.append(line)
            if line[3:4] != "-":
                return "".join(lines)

    async def command(self, line: str) -> str:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def open_data(self, address: str) -> None:
        assert (await self.reply()).startswith("220")
        assert (await self.command("EHLO attacker.test")).startswith("250")
        assert (await self.command("MAIL FROM:<a@attacker.test>")).startswith("250")
        assert (await self.command(f"RCPT TO:<{address}>")).startswith("250")
        assert (await self.command("DATA")).startswith("354")

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def closed_with(self) -> str:
        """Everything the server says until it closes the connection."""
        said = await asyncio.wait_for(self.reader.read(), DEADLINE_SECONDS)
        return said.decode(errors="replace")

    def close(self) -> None:
        self.writer.close()


# --- 1. Unterminated DATA on many connections -------------------------------------------------

ATTACKERS = 20
UNTERMINATED_BYTES = 24_000_000
CHUNK = b"x" * 76 + b"\r\n"


async def send_unterminated(client: RawClient, address: str) -> None:
    await client.open_data(address)
    block = CHUNK * (256 * 1024 // len(CHUNK))
    for _ in range(UNTERMINATED_BYTES // len(block)):
        await client.send(block)


@pytest.fixture
async def attackers() -> AsyncIterator[list[RawClient]]:
    clients: list[RawClient] = []
    yield clients
    for client in clients:
        client.close()


async def test_unterminated_data_on_many_connections_is_spooled_and_memory_comes_back(
    tmp_path: Path, attackers: list[RawClient]
) -> None:
    with served(tmp_path) as server:
        address = await paid_address(server)
        await deliver(server, address, "warm-up")
        before = rss_mib(server)

        for index in range(ATTACKERS):
            attackers.append(await RawClient.connect(server.smtp_port, f"127.0.0.{2 + index % 2}"))
        await asyncio.gather(*(send_unterminated(client, address) for client in attackers))
        during = rss_mib(server)
        reply_during = await deliver(server, address, "during the attack")
        for client in attackers:
            client.close()
        await until(lambda: rss_mib(server) < before + 48, "the memory given back", DEADLINE_SECONDS)
        after = rss_mib(server)

    print(f"RSS MiB before {before:.0f}, during {during:.0f}, after {after:.0f}")
    assert reply_during.startswith("2.0.0")
    assert during - before < 20 * 1.0 + 64  # one spool threshold a connection, and some slack
    assert list((tmp_path / "data" / "spool").iterdir()) == []


LARGE_MESSAGES = 8
LARGE_MESSAGE_BYTES = 8 * MIB


async def test_many_large_messages_at_once_are_stored_a_few_at_a_time(tmp_path: Path) -> None:
    with served(tmp_path, SMTP_LARGE_MESSAGE_CONCURRENCY="2") as server:
        address = await paid_address(server)
        await deliver(server, address, "warm-up")
        body = CHUNK * (LARGE_MESSAGE_BYTES // len(CHUNK))
        raw = text_message(address, subject="large") + body
        before = rss_mib(server)
        reset_peak_rss(server)

        async def send_large(index: int) -> str:
            async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.smtp_port, timeout=120) as smtp:
                _, reply = await smtp.sendmail("big@example.org", [address], raw)
            return reply

        large = [asyncio.create_task(send_large(index)) for index in range(LARGE_MESSAGES)]
        small_reply = await deliver(server, address, "small, during the large ones")
        replies = await asyncio.gather(*large)
        peak = rss_mib(server, "VmHWM")
        await until(lambda: rss_mib(server) < before + 48, "the memory given back", DEADLINE_SECONDS)
        after = rss_mib(server)

    print(f"RSS MiB before {before:.0f}, peak {peak:.0f}, after {after:.0f} for {LARGE_MESSAGES} x 8 MiB")
    assert small_reply.startswith("2.0.0")
    assert all(reply.startswith("2.0.0") for reply in replies)
    # One message at a time costs about 2.5 times its size; all eight at once would be about 160 MiB more.
    # The rise measured with two at a time: 57 to 76 MiB over seven runs (the allocator's reuse of what
    # the start freed varies), so 48 MiB of slack.
    assert peak - before < 2 * 2.6 * LARGE_MESSAGE_BYTES / MIB + 48


# --- 2. Idle connections hoarding every slot ------------------------------------------------

HOARD_ENV = {
    "SMTP_MAX_CONNECTIONS": "20",
    "SMTP_MAX_CONNECTIONS_PER_IP": "10",
    "SMTP_TRANSACTION_START_TIMEOUT_SECONDS": "2",
    "SMTP_COMMAND_TIMEOUT_SECONDS": "3",
}


async def hoard(client: RawClient, start_transaction: bool) -> str:
    """Keep a connection open with NOOPs, after EHLO (and MAIL FROM), until the server ends it."""
    assert (await client.reply()).startswith("220")
    said = await client.command("EHLO hoarder.test")
    if start_transaction:
        said = await client.command("MAIL FROM:<h@hoarder.test>")
    while said.startswith("250"):
        await asyncio.sleep(0.3)  # the hoarder's pace, well inside every timeout
        said = await client.command("NOOP")
    return said + await client.closed_with()


async def test_idle_hoarders_are_timed_out_with_421_and_a_new_sender_gets_in(
    tmp_path: Path, attackers: list[RawClient]
) -> None:
    with served(tmp_path, **HOARD_ENV) as server:
        address = await paid_address(server)
        for index in range(20):
            attackers.append(await RawClient.connect(server.smtp_port, f"127.0.0.{2 + index % 2}"))
        hoarders = [asyncio.create_task(hoard(c, i % 2 == 0)) for i, c in enumerate(attackers)]
        newcomer = await RawClient.connect(server.smtp_port, "127.0.0.4")
        refused = await newcomer.closed_with()

        delivered = None
        end = time.monotonic() + DEADLINE_SECONDS
        while delivered is None and time.monotonic() < end:
            try:
                delivered = await deliver(server, address, "after the hoarders", source_ip="127.0.0.4")
            except (aiosmtplib.SMTPException, OSError):
                await asyncio.sleep(0.2)
        endings = await asyncio.wait_for(asyncio.gather(*hoarders), DEADLINE_SECONDS)

    assert refused.startswith("421 4.7.0")
    assert delivered is not None and delivered.startswith("2.0.0")
    assert all("421 4.4.2" in ending for ending in endings), endings


# --- 3. DATA at the pace of a slow link -----------------------------------------------------

SLOW_LINK_ENV = {
    "SMTP_TRANSACTION_START_TIMEOUT_SECONDS": "5",
    "SMTP_COMMAND_TIMEOUT_SECONDS": "1",
    "SMTP_DATA_BLOCK_TIMEOUT_SECONDS": "1.5",
}


async def trickle(client: RawClient, address: str, pace_seconds: float) -> tuple[str, float]:
    """Send a message one line at a time at the pace of a slow link; the reply to its end and the time."""
    await client.open_data(address)
    started = time.monotonic()
    raw = text_message(address, subject="slow link", body="line\n" * 8).replace(b"\n", b"\r\n")
    for line in raw.splitlines(keepends=True):
        await client.send(line)
        await asyncio.sleep(pace_seconds)  # the link's pace: each block well inside the block timeout
    reply = await client.command(".")
    return reply, time.monotonic() - started


async def test_a_message_trickled_slower_than_a_total_timeout_is_delivered(tmp_path: Path) -> None:
    with served(tmp_path, **SLOW_LINK_ENV) as server:
        address = await paid_address(server)
        client = await RawClient.connect(server.smtp_port)
        trickling = asyncio.create_task(trickle(client, address, pace_seconds=0.3))
        legit = await deliver(server, address, "while another trickles")
        reply, elapsed = await trickling
        client.close()

    assert legit.startswith("2.0.0")
    assert elapsed > 3 * float(SLOW_LINK_ENV["SMTP_COMMAND_TIMEOUT_SECONDS"])
    assert reply.startswith("250 2.0.0")


async def test_a_stalled_data_block_is_closed_with_421_4_4_2(tmp_path: Path) -> None:
    with served(tmp_path, **SLOW_LINK_ENV) as server:
        address = await paid_address(server)
        client = await RawClient.connect(server.smtp_port)
        await client.open_data(address)
        await client.send(b"Subject: stalled\r\n\r\nand then nothing")
        started = time.monotonic()
        said = await client.closed_with()
        waited = time.monotonic() - started
        reply_after = await deliver(server, address, "after the stall")

    assert said.startswith("421 4.4.2")
    assert 1.0 < waited < 10
    assert reply_after.startswith("2.0.0")


# --- 4. Slow DATA on every slot: the timers shorten under stress ------------------------------

STRESS_ENV = {
    "SMTP_MAX_CONNECTIONS": "20",
    "SMTP_MAX_CONNECTIONS_PER_IP": "10",
    "SMTP_STRESS_TIMEOUT_SECONDS": "1",
}


async def trickle_until_closed(client: RawClient, address: str) -> str:
    """A byte of DATA every two seconds, far inside the normal block timeout, until the server speaks."""
    await client.open_data(address)
    while True:
        try:
            return (await asyncio.wait_for(client.reader.readline(), 2.0)).decode()
        except TimeoutError:
            await client.send(b"x")


async def test_when_slow_senders_take_every_slot_the_timers_shorten_and_a_new_sender_gets_in(
    tmp_path: Path, attackers: list[RawClient]
) -> None:
    with served(tmp_path, **STRESS_ENV) as server:
        address = await paid_address(server)
        for index in range(20):
            attackers.append(await RawClient.connect(server.smtp_port, f"127.0.0.{2 + index % 2}"))
        tricklers = [asyncio.create_task(trickle_until_closed(client, address)) for client in attackers]
        newcomer = await RawClient.connect(server.smtp_port, "127.0.0.4")
        refused = await newcomer.closed_with()

        delivered = None
        end = time.monotonic() + DEADLINE_SECONDS
        while delivered is None and time.monotonic() < end:
            try:
                delivered = await deliver(server, address, "past the slow senders", source_ip="127.0.0.4")
            except (aiosmtplib.SMTPException, OSError):
                await asyncio.sleep(0.2)
        cut = [task.result() for task in tricklers if task.done()]
        for task in tricklers:
            task.cancel()

    assert refused.startswith("421 4.7.0")
    assert delivered is not None and delivered.startswith("2.0.0")
    assert cut and all(said.startswith("421 4.4.2") for said in cut)


# --- 5. Unterminated DATA filling the spool ---------------------------------------------------

SPOOL_ENV = {"SMTP_SPOOL_MAX_BYTES": str(8 * MIB), "SMTP_SPOOL_THRESHOLD_BYTES": str(MIB)}


async def send_partial(client: RawClient, address: str, size: int) -> None:
    await client.open_data(address)
    block = CHUNK * (64 * 1024 // len(CHUNK))
    for _ in range(size // len(block)):
        await client.send(block)


def spooled_bytes(server: ServerProcess) -> int:
    """The size of the spool files the served process holds open."""
    assert server.process is not None
    total = 0
    for descriptor in Path(f"/proc/{server.process.pid}/fd").iterdir():
        try:
            if "/spool/" in os.readlink(descriptor):
                total += os.stat(descriptor).st_size
        except OSError:
            continue  # closed while we looked
    return total


async def test_when_the_spool_is_full_a_large_message_is_deferred_and_small_mail_flows(
    tmp_path: Path, attackers: list[RawClient]
) -> None:
    with served(tmp_path, **SPOOL_ENV) as server:
        address = await paid_address(server)
        attackers.append(await RawClient.connect(server.smtp_port))
        await send_partial(attackers[0], address, 6 * MIB)
        await until(lambda: spooled_bytes(server) >= 5 * MIB, "the message spooled", DEADLINE_SECONDS)
        large = await RawClient.connect(server.smtp_port)
        await send_partial(large, address, 4 * MIB)
        deferred = await large.command("\r\n.")
        small = await deliver(server, address, "small, while the spool is full")
        attackers[0].close()
        await until(lambda: spooled_bytes(server) == 0, "the spool emptied", DEADLINE_SECONDS)
        await large.command("MAIL FROM:<a@attacker.test>")
        await large.command(f"RCPT TO:<{address}>")
        assert (await large.command("DATA")).startswith("354")
        await large.send(CHUNK * (4 * MIB // len(CHUNK)))
        stored = await large.command(".")
        large.close()

    assert deferred.startswith("452 4.3.1")
    assert small.startswith("2.0.0")
    assert stored.startswith("250 2.0.0")
