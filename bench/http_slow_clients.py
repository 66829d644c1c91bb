"""The HTTP API while many clients hold request bodies open: does everyone else still get answers?

Run: .venv/bin/python -m bench.http_slow_clients [slow clients, default 200]
Opens that many connections that send the headers of `POST /v1/imap/messages` with `Content-Length: 500`
and five body bytes, then times the landing page, a challenge and /readyz (ROUNDS each) and counts the
answers that were not 200. Target: every answer 200, p99 well under a second.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.mailservice_process import MailserviceProcess

ROUNDS = 50
SLOW_BODY_HEAD = (
    b"POST /v1/imap/messages HTTP/1.1\r\nHost: bench.test\r\n"
    b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    b'{"acc'
)
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


async def main(slow_clients: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        with MailserviceProcess(workdir, str(workdir / "data" / "mailservice.db"), _body_timeout()) as server:
            writers = [await _hold_body(server.http_port) for _ in range(slow_clients)]
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                await _wait_until_reading(client, slow_clients)
                for name, request in _probes(client).items():
                    await _report(name, request)
            for writer in writers:
                writer.close()


def _body_timeout() -> dict[str, str]:
    """Long enough that the slow clients stay inside for the whole run."""
    return {"HTTP_BODY_TIMEOUT_SECONDS": "600", "HTTP_HEADER_TIMEOUT_SECONDS": "600"}


async def _hold_body(port: int) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(SLOW_BODY_HEAD)
    await writer.drain()
    return writer


async def _wait_until_reading(client: httpx.AsyncClient, count: int) -> None:
    """Poll /readyz until the server reads `count` bodies; an older server without it gets 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = await client.get("/readyz")
        if response.status_code == 200 and response.json()["reading_bodies"] >= count:
            return
        await asyncio.sleep(0.1)


def _probes(client: httpx.AsyncClient) -> dict[str, Callable[[], Awaitable[httpx.Response]]]:
    return {
        "GET /": lambda: client.get("/"),
        "POST /v1/auth/challenge": lambda: client.post("/v1/auth/challenge", json={"public_key": PUBLIC_KEY}),
        "GET /readyz": lambda: client.get("/readyz"),
    }


async def _report(name: str, request: Callable[[], Awaitable[httpx.Response]]) -> None:
    seconds, refused = [], 0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = await request()
        seconds.append(time.perf_counter() - started)
        refused += response.status_code != 200
    ordered = sorted(seconds)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)] * 1000
    print(f"{name:28} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  not 200: {refused}/{ROUNDS}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
