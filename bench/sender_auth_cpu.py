"""Where the CPU of sender authentication goes, one message at a time, in one process.

Run: .venv/bin/python -m bench.sender_auth_cpu [--messages 300]
The checks of `bench/sender_auth.py` (SPF, 2048-bit RSA DKIM, DMARC p=reject; DNS from a server on
loopback, cached after the first message) run on signed messages of about 5 KB, one after another, so
the CPU time per message is not blurred by a load. Prints the time of relaxed body canonicalization
with dkimpy's functions and with ours, the CPU per message of the whole check and of each step run
alone, the CPU a message's checks cost this process when a parser worker runs them (the round trip),
and the functions that take the most time under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
import timeit
from collections.abc import Awaitable, Callable

from dkim.canonicalization import Relaxed
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import dns_server

from bench.sender_auth import DOMAIN, signed_zone
from bench.smtp_load import make_messages
from mailservice.adapters.parser_processes import PooledParser
from mailservice.adapters.senderauth import dkim_speedups
from mailservice.adapters.senderauth.authenticator import DnsSenderAuthenticator
from mailservice.adapters.senderauth.checker import Checker, CheckRequest, author_fields
from mailservice.adapters.senderauth.dkim_check import check_dkim
from mailservice.adapters.senderauth.dmarc_check import check_dmarc
from mailservice.adapters.senderauth.known_answers import KnownAnswers
from mailservice.adapters.senderauth.resolver import AsyncDns, DnsSettings
from mailservice.adapters.senderauth.spf_check import check_spf
from mailservice.domain.sender_auth import DkimCheck, SmtpSender

SENDER = SmtpSender("127.0.0.1", "loadgen.bench.test", f"load@{DOMAIN}")


async def measure(count: int) -> None:
    key = DkimKey.rsa("bench", bits=2048)
    raws = [
        key.sign(raw, DOMAIN) for _, _, raw in make_messages(count, 5000, "a@bench.test", SENDER.mail_from)
    ]
    body = raws[0].split(b"\r\n\r\n", 1)[1]
    dkimpys = _relaxed_body_us(body)
    dkim_speedups.install()
    print(
        f"relaxed body canonicalization of {len(body)} bytes: dkimpy's {dkimpys:.1f} us, "
        f"ours {_relaxed_body_us(body):.1f} us (best of 5 x 500)"
    )
    async with dns_server(signed_zone(key)) as nameserver:
        dns_ = AsyncDns(DnsSettings((nameserver,), timeout_seconds=3, cache_size=5000))
        checker = DnsSenderAuthenticator(dns_, timeout_seconds=5)
        verdict = await checker.authenticate(raws[0], SENDER)  # fills the cache
        print(
            f"verdict: spf={verdict.spf.result} dkim={[d.result for d in verdict.dkim]} dmarc={verdict.dmarc.result}"
        )
        whole = await _cpu_per_message(raws, lambda raw: checker.authenticate(raw, SENDER))
        print(f"whole check (lookups, thread hop, every step): {whole:.3f} ms CPU per message")
        workers = PooledParser(1, check_cache_size=5000)
        await workers.start()
        in_worker = DnsSenderAuthenticator(dns_, timeout_seconds=5, workers=workers)
        await in_worker.authenticate(raws[0], SENDER)  # fills the worker's cache
        here = await _cpu_per_message(raws, lambda raw: in_worker.authenticate(raw, SENDER))
        print(f"checks in a parser worker: {here:.3f} ms of this process's CPU per message (the round trip)")
        in_worker.close()
        await workers.close()
        loop = asyncio.get_running_loop()
        for name, step in _steps(dns_).items():
            spent = await _cpu_per_message(raws, _in_a_thread(loop, step))
            print(f"  {name:<6} alone: {spent:.3f} ms CPU per message")
        # The checks proper, in this thread, as a parser worker runs them: every answer is cached now.
        checks = Checker(dns_.cache)
        profile = cProfile.Profile()
        profile.enable()
        for raw in raws:
            checks.check(CheckRequest(raw, SENDER, (), 5))
        profile.disable()
        checker.close()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue())


def _steps(dns_: AsyncDns) -> dict[str, Callable[[bytes], object]]:
    def resolver() -> KnownAnswers:
        return KnownAnswers(dns_.cache)

    spf = check_spf(resolver(), SENDER.ip, SENDER.mail_from, SENDER.helo)
    return {
        "spf": lambda raw: check_spf(resolver(), SENDER.ip, SENDER.mail_from, SENDER.helo),
        "dkim": lambda raw: check_dkim(resolver(), raw, author_fields(raw).signatures, 5),
        "dmarc": lambda raw: check_dmarc(
            resolver(), author_fields(raw).from_domains, spf, _dkim(resolver(), raw)
        ),
    }


def _relaxed_body_us(body: bytes) -> float:
    runs = timeit.repeat(lambda: Relaxed.canonicalize_body(body), number=500, repeat=5)
    return min(runs) * 1e6 / 500


def _in_a_thread(
    loop: asyncio.AbstractEventLoop, step: Callable[[bytes], object]
) -> Callable[[bytes], Awaitable[object]]:
    return lambda raw: loop.run_in_executor(None, step, raw)


def _dkim(resolver: KnownAnswers, raw: bytes) -> tuple[DkimCheck, ...]:
    return check_dkim(resolver, raw, author_fields(raw).signatures, 5)


async def _cpu_per_message(raws: list[bytes], run: Callable[[bytes], object]) -> float:
    started = time.process_time()
    for raw in raws:
        await run(raw)  # type: ignore[misc]
    return (time.process_time() - started) * 1000 / len(raws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    asyncio.run(measure(parser.parse_args().messages))


if __name__ == "__main__":
    main()
