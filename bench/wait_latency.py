"""SMTP 250 -> `GET /v1/messages/wait` answering, for a waiter long-polling while mail arrives, with
sender authentication on against a DNS server on loopback.

Run: .venv/bin/python -m bench.wait_latency [--probes 200] [--interval 0.1]
One agent long-polls its mailbox (`wait` with `after_uid`, asked again as soon as it answers), while
DKIM-signed probe messages for it arrive one at a time every `--interval` seconds over one SMTP
connection. For each probe: the moment its 250 is read, and the moment the `wait` that returned it
answered; the latency is the difference (negative when the answer came before the 250 was read).
Two phases, each in a fresh server:
1. quiet: only the probes (the realistic rate of one mailbox);
2. under load: the same probes while `bench/smtp_ingest.py`'s load (signed, 20 connections to 20 other
   mailboxes, as fast as the server takes it) runs from another process, ended after the last probe.
With --compare-off each phase runs again with SENDER_AUTH=off on the same signed mail, to tell what
the checks add from what a busy machine adds. Target: p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import httpx

from bench.http_read import percentile
from bench.mailservice_process import BENCH_SERVER_ENV, MailserviceProcess
from bench.sender_auth import DOMAIN, sender_checks
from bench.smtp_load import Message, make_messages, send_load

LOAD_MESSAGES = 20000
LOAD_DISTINCT = 400
LOAD_CONNECTIONS = 20
LOAD_MAILBOXES = 20
SIZE = 5000


@dataclass
class Probes:
    accepted: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)

    def latencies_ms(self) -> list[float]:
        return [(self.answered[s] - self.accepted[s]) * 1000 for s in self.accepted if s in self.answered]


async def long_poll(base_url: str, token: str, probes: Probes, expected: int) -> None:
    """The agent: wait for the next message after the last one seen, again and again."""
    headers = {"Authorization": f"Bearer {token}"}
    last_uid = 0
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        while len(probes.answered) < expected:
            response = await http.get("/v1/messages/wait", params={"after_uid": last_uid, "timeout": 30})
            answered = time.perf_counter()
            message = response.json().get("message")
            if message is None:
                continue
            last_uid = message["uid"]
            probes.answered[message["subject"]] = answered


async def send_probes(
    port: int, address: str, messages: list[Message], interval: float, probes: Probes
) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
        next_at = time.perf_counter()
        for index, (mail_from, _, raw) in enumerate(messages):
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
            await smtp.sendmail(mail_from, [address], raw)
            probes.accepted[f"probe {index}"] = time.perf_counter()


def probe_messages(count: int, address: str, sign: Callable[[list[Message]], list[Message]]) -> list[Message]:
    messages = make_messages(count, 3000, lambda i: address, f"load@{DOMAIN}", seed=7)
    titled = [
        (mail_from, to, raw.replace(b"Subject: ", f"Subject: probe {i}\r\nX-Old-Subject: ".encode(), 1))
        for i, (mail_from, to, raw) in enumerate(messages)
    ]
    return sign(titled)


def run_load(port: int, messages: list[Message]) -> None:
    """The ingest load, in a process of its own; ended when the probes are done."""
    asyncio.run(send_load("127.0.0.1", port, messages, LOAD_CONNECTIONS))


async def measure(
    server: MailserviceProcess, token: str, address: str, probes_raw: list[Message], interval: float
) -> Probes:
    probes = Probes()
    waiter = asyncio.create_task(long_poll(server.base_url, token, probes, len(probes_raw)))
    await asyncio.sleep(0.2)
    await send_probes(server.smtp_port, address, probes_raw, interval, probes)
    await asyncio.wait_for(waiter, 30)
    return probes


def phase(name: str, count: int, interval: float, with_load: bool, checks: bool) -> list[float]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-wait-"))
    with sender_checks(True) as (env, sign):
        # the load's 20 connections and the probes' one all come from 127.0.0.1: no per-address cap
        env = {**BENCH_SERVER_ENV, **env, **({} if checks else {"SENDER_AUTH": "off"})}
        with MailserviceProcess(workdir, str(workdir / "data" / "m.db"), extra_env=env) as server:
            return _probe(server, sign, name, count, interval, with_load, checks)


def _probe(
    server: MailserviceProcess,
    sign: Callable[[list[Message]], list[Message]],
    name: str,
    count: int,
    interval: float,
    with_load: bool,
    checks: bool,
) -> list[float]:
    [(address, token)] = server.paid_mailboxes(1)
    probes_raw = probe_messages(count, address, sign)
    load = _start_load(server, sign) if with_load else None
    started_load = os.getloadavg()[0]
    probes = asyncio.run(measure(server, token, address, probes_raw, interval))
    if load is not None:
        still_loaded = load.is_alive()
        load.terminate()
        load.join()
        print(f"  the load was {'still' if still_loaded else 'no longer'} running at the last probe")
    ms = probes.latencies_ms()
    print(
        f"{name}, checks {'on' if checks else 'off'}: {len(ms)} probes every {interval * 1000:.0f} ms, "
        f"load average {started_load:.2f}: p50 {percentile(ms, 50):.1f} ms, p90 {percentile(ms, 90):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms (target p99 < 20 ms)"
    )
    return ms


def _start_load(
    server: MailserviceProcess, sign: Callable[[list[Message]], list[Message]]
) -> multiprocessing.Process:
    others = server.paid_addresses(LOAD_MAILBOXES)
    distinct = sign(
        make_messages(LOAD_DISTINCT, SIZE, lambda i: others[i % LOAD_MAILBOXES], f"load@{DOMAIN}")
    )
    messages = [distinct[i % LOAD_DISTINCT] for i in range(LOAD_MESSAGES)]
    load = multiprocessing.Process(target=run_load, args=(server.smtp_port, messages))
    load.start()
    time.sleep(1.0)  # the load is running before the first probe
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between probe messages")
    parser.add_argument("--load-probes", type=int, default=100, help="probes sent during the ingest load")
    parser.add_argument(
        "--compare-off", action="store_true", help="each phase again with SENDER_AUTH=off, same signed mail"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for with_load in (False, True):
        for checks in (True, False) if args.compare_off else (True,):
            probes = args.load_probes if with_load else args.probes
            name = "under the ingest load" if with_load else "quiet"
            phase(name, probes, args.interval, with_load, checks)


if __name__ == "__main__":
    main()
