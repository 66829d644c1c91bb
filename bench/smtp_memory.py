"""Peak memory of the server while it takes in one 25 MiB message.

Run: .venv/bin/python -m bench.smtp_memory
Prints the server's resident memory before, its peak while receiving and storing the message, and the
growth as a multiple of the message size (target: under 4x).
"""

from __future__ import annotations

import asyncio
import smtplib
import tempfile
from pathlib import Path

from bench.mailservice_process import MailserviceProcess

MESSAGE_BYTES = 25 * 1024 * 1024 - 64 * 1024  # just under the default MAX_MESSAGE_BYTES


def big_message(to: str, size: int) -> bytes:
    header = f"From: big@example.org\r\nTo: {to}\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n".encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n"
    return header + line * ((size - len(header)) // len(line))


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def send(port: int, to: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.sendmail("big@example.org", [to], raw)


async def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    with MailserviceProcess(workdir, str(workdir / "data" / "mailservice.db")) as server:
        assert server.process is not None
        pid = server.process.pid
        [address] = server.paid_addresses(1)
        raw = big_message(address, MESSAGE_BYTES)
        send(server.smtp_port, address, b"Subject: warm-up\r\n\r\nhello\r\n")
        before = rss_kib(pid, "VmRSS")
        reset_peak(pid)
        await asyncio.to_thread(send, server.smtp_port, address, raw)
        peak = rss_kib(pid, "VmHWM")
    growth = (peak - before) * 1024
    print(f"message: {len(raw) / 2**20:.1f} MiB")
    print(f"server RSS before: {before / 1024:.1f} MiB, peak while ingesting: {peak / 1024:.1f} MiB")
    print(f"growth: {growth / 2**20:.1f} MiB = {growth / len(raw):.2f}x the message size (target < 4x)")


if __name__ == "__main__":
    asyncio.run(main())
