"""The checks in a parser worker process: the verdict of the checks in place, the answers a worker lacks
asked for and then kept, a failed lookup that stays a temporary error, and a worker that dies."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import pytest

from mailservice.adapters.parser_processes import PooledParser
from mailservice.adapters.senderauth.authenticator import DnsSenderAuthenticator
from mailservice.adapters.senderauth.checker import CheckRequest, NeedAnswers
from mailservice.adapters.senderauth.known_answers import Answer
from mailservice.adapters.senderauth.resolver import AsyncDns, DnsSettings
from mailservice.domain.sender_auth import SenderAuth, SmtpSender
from tests.support.dkim_keys import DkimKey
from tests.support.dns_server import Zone, dns_server

DOMAIN = "shop.example"
KEY = DkimKey.rsa("s2026")
SENDER = SmtpSender("127.0.0.7", f"mx.{DOMAIN}", f"bounce@{DOMAIN}")
SPF = "v=spf1 ip4:127.0.0.7 -all"
DMARC = "v=DMARC1; p=reject"
RAW = KEY.sign(
    f"From: Shop <noreply@{DOMAIN}>\r\nTo: b@agents.test\r\nSubject: code\r\n\r\nYour code is 123456\r\n".encode(),
    DOMAIN,
)


@pytest.fixture
async def nameserver() -> AsyncIterator[str]:
    zone = Zone()
    zone.add_txt(DOMAIN, SPF)
    zone.add_txt(f"_dmarc.{DOMAIN}", DMARC)
    zone.add_txt(KEY.dns_name(DOMAIN), KEY.dns_record)
    async with dns_server(zone) as address:
        yield address


@pytest.fixture
async def workers() -> AsyncIterator[PooledParser]:
    pooled = PooledParser(1, check_cache_size=100)
    await pooled.start()
    yield pooled
    await pooled.close()


def request(*answers: Answer) -> CheckRequest:
    return CheckRequest(RAW, SENDER, answers, 5.0)


def answer(name: str, text: str | None) -> Answer:
    """The name's one TXT record, or that it has none."""
    return Answer(name, "TXT", ((text.encode(),),) if text is not None else (), 300.0)


def failed(name: str) -> Answer:
    return Answer(name, "TXT", None, 0.0)


async def test_checks_in_a_worker_give_the_verdict_of_checks_in_place(
    nameserver: str, workers: PooledParser
) -> None:
    settings = DnsSettings((nameserver,), 2.0, 100)
    in_worker = DnsSenderAuthenticator(AsyncDns(settings), 5.0, workers)
    in_place = DnsSenderAuthenticator(AsyncDns(settings), 5.0)
    try:
        from_worker = await in_worker.authenticate(RAW, SENDER)
        from_here = await in_place.authenticate(RAW, SENDER)
    finally:
        in_worker.close()
        in_place.close()

    assert from_worker == from_here
    assert (from_worker.spf.result, from_worker.dmarc.result, from_worker.verified_domain) == (
        "pass",
        "pass",
        DOMAIN,
    )
    assert [s.result for s in from_worker.dkim] == ["pass"]


async def test_a_worker_asks_for_what_it_lacks_and_keeps_the_answers(workers: PooledParser) -> None:
    first = await workers.check_sender(request())
    assert isinstance(first, NeedAnswers)
    asked = {name for name, _ in first.names}
    assert asked == {DOMAIN, f"mx.{DOMAIN}", KEY.dns_name(DOMAIN), f"_dmarc.{DOMAIN}"}

    records = {DOMAIN: SPF, f"_dmarc.{DOMAIN}": DMARC, KEY.dns_name(DOMAIN): KEY.dns_record}
    answered = await workers.check_sender(request(*(answer(name, records.get(name)) for name in asked)))
    again = await workers.check_sender(request())

    assert isinstance(answered, SenderAuth)
    assert (answered.spf.result, answered.dmarc.result, answered.verified_domain) == ("pass", "pass", DOMAIN)
    assert again == answered  # from the worker's own cache, nothing asked


async def test_a_failed_lookup_sent_to_a_worker_is_temperror_never_pass(workers: PooledParser) -> None:
    names = (DOMAIN, f"mx.{DOMAIN}", KEY.dns_name(DOMAIN), f"_dmarc.{DOMAIN}")

    verdict = await workers.check_sender(request(*(failed(name) for name in names)))

    assert isinstance(verdict, SenderAuth)
    assert (verdict.spf.result, verdict.dmarc.result, verdict.verified_domain) == (
        "temperror",
        "temperror",
        None,
    )
    assert [s.result for s in verdict.dkim] == ["temperror"]


async def test_a_killed_worker_costs_no_verdict(nameserver: str, workers: PooledParser) -> None:
    authenticator = DnsSenderAuthenticator(AsyncDns(DnsSettings((nameserver,), 2.0, 100)), 5.0, workers)
    (worker,) = workers._workers  # killed on purpose
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    try:
        first = await authenticator.authenticate(RAW, SENDER)  # checked here while the worker is replaced
        second = await authenticator.authenticate(RAW, SENDER)  # in the new worker
    finally:
        authenticator.close()

    assert first == second
    assert (first.spf.result, first.dmarc.result, first.verified_domain) == ("pass", "pass", DOMAIN)
