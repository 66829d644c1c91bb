"""The HTTP read API: how fast `wait` wakes up, and whether listing stays fast in a huge mailbox.

Run: .venv/bin/python -m bench.http_read [--signed-with-local-dns]
1. SMTP 250 -> `GET /v1/messages/wait` answering, over 200 deliveries (target p99 < 20 ms).
2. `GET /v1/messages?limit=20` in a mailbox of 100,000 messages against one of 100, same run
   (target: no more than 1.5x slower).
With --signed-with-local-dns the mail of 1. is DKIM-signed and checked against a DNS server on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.mailservice_process import SECRET, MailserviceProcess
from bench.sender_auth import DOMAIN, sender_checks
from bench.smtp_load import Message, make_messages
from mailservice.adapters.message_parsing import parse_message
from mailservice.bootstrap import Runtime, build_runtime, migrate
from mailservice.config import Settings
from mailservice.domain.identity import KeyProof
from mailservice.domain.mailbox import Mailbox
from mailservice.domain.messages import Delivery, MessageCopy

WAIT_ROUNDS = 200
BIG = 100_000
SMALL = 100
LIST_ROUNDS = 300


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def wait_latencies(
    server: MailserviceProcess, address: str, token: str, prepare: Callable[[list[Message]], list[Message]]
) -> list[float]:
    raws = [raw for _, _, raw in prepare(make_messages(WAIT_ROUNDS, 3000, address, f"load@{DOMAIN}"))]
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    async with (
        httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http,
        aiosmtplib.SMTP(hostname="127.0.0.1", port=server.smtp_port) as smtp,
    ):
        for uid, raw in enumerate(raws):
            waiting = asyncio.create_task(
                http.get("/v1/messages/wait", params={"after_uid": uid, "timeout": 10})
            )
            await asyncio.sleep(0.005)  # let the request reach the server and start waiting
            await smtp.sendmail(f"load@{DOMAIN}", [address], raw)
            accepted = time.perf_counter()
            response = await waiting
            answered = time.perf_counter()
            assert response.json()["message"]["uid"] == uid + 1
            latencies.append(answered - accepted)
    return latencies


async def fill(database: str, workdir: Path) -> tuple[str, str]:
    """Create two paid mailboxes with SMALL and BIG messages straight through the store; their tokens."""
    settings = Settings(
        _env_file=None,
        database_dsn=database,
        data_dir=workdir,
        secret_key=SECRET,
        mail_domain="bench.test",
        mailbox_quota_bytes=10**12,
    )
    await migrate(settings)
    runtime = await build_runtime(settings)
    tokens = []
    for count in (SMALL, BIG):
        mailbox = await _paid(runtime)
        raw = make_messages(1, 2000, mailbox.address("bench.test"), "load@example.org")[0][2]
        copy = MessageCopy(mailbox.id, raw, parse_message(raw), datetime.now(UTC))
        for start in range(0, count, 5000):
            batch = [Delivery((replace(copy),)) for _ in range(min(5000, count - start))]
            await asyncio.gather(*(runtime.store.store(d) for d in batch))
        tokens.append(runtime.services.credentials.access_token(mailbox))
    await runtime.close()
    return tokens[0], tokens[1]


async def _paid(runtime: Runtime) -> Mailbox:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    challenge = runtime.services.proofs.issue_challenge(public).text
    signature = base64.b64encode(key.sign(challenge.encode())).decode()
    claimed = await runtime.services.mailboxes.claim(
        "bench@example.com", KeyProof(public, challenge, signature)
    )
    assert claimed.payment_url is not None
    return await runtime.services.payments.complete(claimed.payment_url.rsplit("/", 1)[1])


async def list_times(server: MailserviceProcess, token: str) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
        for _ in range(LIST_ROUNDS):
            started = time.perf_counter()
            response = await http.get("/v1/messages", params={"limit": 20})
            times.append(time.perf_counter() - started)
            assert len(response.json()["messages"]) == 20
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--signed-with-local-dns",
        action="store_true",
        help="DKIM-sign the mail and answer the sender checks from a DNS server on loopback",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    database = str(workdir / "data" / "mailservice.db")
    small_token, big_token = asyncio.run(fill(database, workdir))
    with (
        sender_checks(args.signed_with_local_dns) as (env, prepare),
        MailserviceProcess(workdir, database, extra_env=env) as server,
    ):
        [(address, token)] = server.paid_mailboxes(1)
        latencies = asyncio.run(wait_latencies(server, address, token, prepare))
        small = asyncio.run(list_times(server, small_token))
        big = asyncio.run(list_times(server, big_token))
    ms = [value * 1000 for value in latencies]
    print(
        f"SMTP 250 -> wait answered, {WAIT_ROUNDS} deliveries: p50 {percentile(ms, 50):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms (target p99 < 20 ms)"
    )
    small_median, big_median = statistics.median(small) * 1000, statistics.median(big) * 1000
    print(
        f"GET /v1/messages?limit=20: {SMALL} messages {small_median:.2f} ms, {BIG} messages {big_median:.2f} ms "
        f"(median of {LIST_ROUNDS}); ratio {big_median / small_median:.2f}x (target <= 1.5x)"
    )


if __name__ == "__main__":
    main()
