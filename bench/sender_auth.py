"""SMTP delivery with sender authentication on and off, on the same DKIM-signed load.

Run: .venv/bin/python -m bench.sender_auth [--database DSN]
A DNS server on loopback (the test suite's) serves SPF (`ip4:127.0.0.1`), DMARC `p=reject` and a
2048-bit RSA DKIM key for the sender's domain; 2,000 signed messages of about 5 KB go over 20
connections to `mailservice serve`, once with SENDER_AUTH=off and once with it on; the second 1,000
are timed. Prints both rates and latencies, the CPU per message of each thread of the server and of its
parser workers (from /proc), and the verdict stored for one message, to show the checks ran and passed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import dkim
import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import Zone, dns_server

from bench import thread_cpu
from bench.mailservice_process import MailserviceProcess, free_port
from bench.smtp_load import LoadResult, Message, make_messages, send_load

COUNT = 2000
SIZE = 5000
CONNECTIONS = 20
MAILBOXES = 10
DOMAIN = "example.org"


def _sign_with_openssl(digest: Any, private_key: dict[str, int]) -> bytes:
    """dkimpy's RSA signing (in Python integers, ~10 ms for 2048 bits) done by OpenSSL, only to prepare
    the load faster; the server verifies with whatever it runs."""
    key = _private_key(tuple(sorted(private_key.items())))
    return key.sign(digest.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


@lru_cache(maxsize=4)
def _private_key(items: tuple[tuple[str, int], ...]) -> rsa.RSAPrivateKey:
    """Built once per key: OpenSSL checks the key when it is built (a third of a second)."""
    numbers = dict(items)
    public = rsa.RSAPublicNumbers(numbers["publicExponent"], numbers["modulus"])
    return rsa.RSAPrivateNumbers(
        p=numbers["prime1"],
        q=numbers["prime2"],
        d=numbers["privateExponent"],
        dmp1=numbers["exponent1"],
        dmq1=numbers["exponent2"],
        iqmp=numbers["coefficient"],
        public_numbers=public,
    ).private_key()


dkim.RSASSA_PKCS1_v1_5_sign = _sign_with_openssl


def signed_zone(key: DkimKey) -> Zone:
    zone = Zone()
    zone.add_txt(DOMAIN, "v=spf1 ip4:127.0.0.1 -all")
    zone.add_txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=reject")
    zone.add_txt(key.dns_name(DOMAIN), key.dns_record)
    return zone


@contextmanager
def dns_in_thread(zone: Zone) -> Iterator[str]:
    """The test DNS server on a loop of its own, so it answers while this thread runs the load."""
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[str] = loop.create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with dns_server(zone) as address:
            ready.set_result(address)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    address = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(ready), 10), loop).result()
    try:
        yield address
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()


@contextmanager
def sender_checks(signed: bool) -> Iterator[tuple[dict[str, str], Callable[[list[Message]], list[Message]]]]:
    """The server's environment and how to prepare the load: as it is, or DKIM-signed with a DNS server
    on loopback that makes SPF, DKIM and DMARC pass."""
    env = {"POP3_ADDR": f"127.0.0.1:{free_port()}"}
    if not signed:
        yield env, lambda messages: messages
        return
    key = DkimKey.rsa("bench", bits=2048)

    def sign(messages: list[Message]) -> list[Message]:
        return [(mail_from, to, key.sign(raw, DOMAIN)) for mail_from, to, raw in messages]

    with dns_in_thread(signed_zone(key)) as nameserver:
        yield {**env, "SENDER_AUTH": "on", "DNS_NAMESERVERS": nameserver}, sign


def run(database: str | None, messages: list[Message], env: dict[str, str]) -> tuple[LoadResult, object, str]:
    """The load's result, the verdict stored for its first message, and the CPU per message by thread
    (measured over the second half of the load, after the first half warmed every cache)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-sender-auth-"))
    dsn = database or str(workdir / "data" / "mailservice.db")
    env = {"POP3_ADDR": f"127.0.0.1:{free_port()}", **env}
    with MailserviceProcess(workdir, dsn, extra_env=env) as server:
        assert server.process is not None
        access = server.paid_access(MAILBOXES)
        addressed = [(m[0], str(access[i % MAILBOXES]["email"]), m[2]) for i, m in enumerate(messages)]
        half = len(addressed) // 2
        asyncio.run(send_load("127.0.0.1", server.smtp_port, addressed[:half], CONNECTIONS))
        before = thread_cpu.snapshot(server.process.pid)
        result = asyncio.run(send_load("127.0.0.1", server.smtp_port, addressed[half:], CONNECTIONS))
        cpu = thread_cpu.report(before, thread_cpu.snapshot(server.process.pid), result.accepted)
        token = access[0]["access_token"]
        first = httpx.get(
            f"{server.base_url}/v1/messages/1", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        return result, first.json()["message"].get("auth"), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="DATABASE_DSN (default: a new SQLite file per run)")
    args = parser.parse_args()
    key = DkimKey.rsa("bench", bits=2048)
    unsigned = make_messages(COUNT, SIZE, "placeholder@bench.test", f"load@{DOMAIN}")
    messages = [(mail_from, to, key.sign(raw, DOMAIN)) for mail_from, to, raw in unsigned]
    print(f"load average before: {os.getloadavg()[0]:.2f} (a busy machine skews both runs)")
    with dns_in_thread(signed_zone(key)) as nameserver:
        off, _, off_cpu = run(args.database, messages, {"SENDER_AUTH": "off"})
        on, verdict, on_cpu = run(
            args.database, messages, {"SENDER_AUTH": "on", "DNS_NAMESERVERS": nameserver}
        )
    print(f"{COUNT} DKIM-signed messages of ~{SIZE} bytes over {CONNECTIONS} connections (second half timed)")
    for name, result, cpu in (("sender auth off", off, off_cpu), ("sender auth on ", on, on_cpu)):
        print(
            f"{name}: {result.rate:7.0f} msg/s (accepted {result.accepted}, "
            f"p50 {result.percentile(50) * 1000:.1f} ms, p99 {result.percentile(99) * 1000:.1f} ms)"
        )
        print(f"  CPU per message by thread:\n{cpu}")
    print(f"verdict stored for the first message: {verdict}")


if __name__ == "__main__":
    main()
