"""Sender authentication of one message, computed once at delivery within a bounded time.

The serving process does the DNS and the parser workers the checks. A message goes to a worker
(`CheckWorkers`, the parser pool), whose checks read only the answers sent with it and the worker's
own cache; what they still lack comes back as `NeedAnswers`, is looked up here on the event loop by
dnspython's asyncio resolver (through this process's cache, all of a round's names together), and
the message goes back with the answers. Past the time limit the verdict is `temperror` for
everything (never `pass`) and delivery goes on.

Without workers, and for a message over 1 MiB (sending it would copy it twice more), the same checks
run in threads of this process, over this process's cache. dkimpy holds about four copies of a
message while it verifies it, so messages over 1 MiB are checked one at a time in a thread of their
own: a few large deliveries at once cannot multiply that, and small messages never queue behind them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from mailservice.adapters.senderauth.checker import (
    Checker,
    CheckFailed,
    CheckOutcome,
    CheckRequest,
    NeedAnswers,
    unavailable_verdict,
)
from mailservice.adapters.senderauth.known_answers import Answer, DnsTemporaryError
from mailservice.adapters.senderauth.resolver import AsyncDns, ResolverSilent
from mailservice.domain.sender_auth import SenderAuth, SmtpSender

log = logging.getLogger(__name__)

# In this process the checks are CPU work under the interpreter lock; more threads only contend.
CHECK_THREADS = 2
LARGE_MESSAGE_BYTES = 1024 * 1024
# Rounds of lookups for one message before every name still missing counts as failed (temperror):
# SPF's limit of ten DNS mechanisms, each perhaps a round of its own, and a few more.
MAX_ROUNDS = 24


class CheckWorkers(Protocol):
    """Processes that run a message's checks; None when none can (then they run here)."""

    async def check_sender(self, request: CheckRequest) -> CheckOutcome | None: ...


class DnsSenderAuthenticator:
    def __init__(self, dns_: AsyncDns, timeout_seconds: float, workers: CheckWorkers | None = None) -> None:
        self._dns = dns_
        self._timeout = timeout_seconds
        self._workers = workers
        self._checker = Checker(dns_.cache)
        self._threads = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="sender-auth")
        self._large_thread = ThreadPoolExecutor(1, thread_name_prefix="sender-auth-large")

    async def authenticate(self, raw: bytes | bytearray, sender: SmtpSender) -> SenderAuth:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):  # no task of its own, unlike wait_for
                return await self._rounds(raw, sender)
        except TimeoutError:
            log.warning("sender_auth.timeout after=%.1fs", time.monotonic() - started)
        except Exception:
            # a message the libraries choke on is still delivered, unauthenticated, never refused
            log.exception("sender_auth.failed")
        return unavailable_verdict(raw, sender)

    async def _rounds(self, raw: bytes | bytearray, sender: SmtpSender) -> SenderAuth:
        """Run the checks, look up what they lack, and again, until they give a verdict."""
        answers: dict[tuple[str, str], Answer] = {}
        lookups = _Lookups(self._dns)
        rounds = 0
        while True:
            outcome = await self._run(CheckRequest(raw, sender, tuple(answers.values()), self._timeout))
            if isinstance(outcome, SenderAuth):
                return outcome
            if isinstance(outcome, CheckFailed):
                raise RuntimeError(outcome.reason)
            rounds += 1
            if rounds >= MAX_ROUNDS:
                lookups.give_up()
            for answer in await lookups.answers(_not_answered(outcome, answers)):
                answers[(answer.name, answer.rdtype)] = answer

    async def _run(self, request: CheckRequest) -> CheckOutcome:
        large = len(request.raw) > LARGE_MESSAGE_BYTES
        if self._workers is not None and not large:
            outcome = await self._workers.check_sender(request)
            if outcome is not None:
                return outcome
        threads = self._large_thread if large else self._threads
        return await asyncio.get_running_loop().run_in_executor(threads, self._checker.check, request)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._large_thread.shutdown(wait=False, cancel_futures=True)


class _Lookups:
    """One message's lookups. Once our resolver has failed to answer at all, the remaining names fail
    at once: waiting for each in turn would only spend the whole time limit on an unreachable server."""

    def __init__(self, dns_: AsyncDns) -> None:
        self._dns = dns_
        self._silent = False

    def give_up(self) -> None:
        self._silent = True

    async def answers(self, names: list[tuple[str, str]]) -> list[Answer]:
        if self._silent:
            return [Answer(name, rdtype, None, 0.0) for name, rdtype in names]
        outcomes = await asyncio.gather(
            *(self._dns.lookup(name, rdtype) for name, rdtype in names), return_exceptions=True
        )
        now = self._dns.cache.clock()
        answers = []
        for (name, rdtype), outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, DnsTemporaryError):
                self._silent = self._silent or isinstance(outcome, ResolverSilent)
                answers.append(Answer(name, rdtype, None, 0.0))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                answers.append(Answer(name, rdtype, outcome.records, outcome.expires - now))
        return answers


def _not_answered(outcome: NeedAnswers, answers: dict[tuple[str, str], Answer]) -> list[tuple[str, str]]:
    names = [name for name in outcome.names if name not in answers]
    if not names:  # an answer given was not taken: the checks would ask for ever
        raise RuntimeError(f"the checks asked again for {outcome.names}")
    return names
