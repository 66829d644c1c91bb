"""Raw connections from chosen loopback addresses against a served process, and its memory use."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import ServerProcess

ATTACK_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 22)]
"""Source addresses of attackers; the legitimate client connects from 127.0.0.1."""
DEADLINE_SECONDS = 20.0


@dataclass
class RawConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, port: int, source: str = "127.0.0.1") -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        return cls(reader, writer)

    async def line(self) -> bytes:
        return await asyncio.wait_for(self.reader.readline(), DEADLINE_SECONDS)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def closed_by_server(self) -> bool:
        """Whether the server ends the connection (everything it still sends is read and dropped)."""
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                while await self.reader.read(65536):
                    pass
        except ConnectionError:
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.writer.transport.abort()


async def open_many(port: int, sources: list[str], each: int) -> list[RawConnection]:
    """`each` connections from every source address."""
    opened = []
    for source in sources:
        for _ in range(each):
            opened.append(await RawConnection.open(port, source))
    return opened


async def open_greeted(
    port: int, sources: list[str], each: int, accepted: int
) -> tuple[list[RawConnection], list[bytes]]:
    """`each` connections from every source address and their first lines, opened again until at
    least `accepted` are greeted: the server frees an earlier test's slots as it sees them close."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        opened = await open_many(port, sources, each)
        greetings = [await connection.line() for connection in opened]
        if sum(g.startswith((b"* OK", b"+OK")) for g in greetings) >= accepted:
            return opened, greetings
        close_all(opened)
        assert time.monotonic() < deadline, "earlier connections were never released"
        await asyncio.sleep(0.1)


def close_all(connections: list[RawConnection]) -> None:
    for connection in connections:
        connection.close()


def rss_bytes(server: ServerProcess) -> int:
    """The served process's resident set size (VmRSS)."""
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc status")
