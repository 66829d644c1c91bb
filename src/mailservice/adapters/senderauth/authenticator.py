"""Sender authentication of one message, computed once at delivery within a bounded time.

dkimpy and pyspf are synchronous, so the checks run in a small thread pool of their own; their
DNS queries are answered on the event loop by the asyncio resolver. Past the time limit the
verdict is `temperror` for everything (never `pass`) and delivery goes on.

dkimpy holds about four copies of a message while it verifies it, so messages over 1 MiB are checked
one at a time in a thread of their own: a few large deliveries at once cannot multiply that, and
small messages never queue behind them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import getaddresses

from mailservice.adapters.mime.header_fields import values_by_name
from mailservice.adapters.mime.headers import unfold
from mailservice.adapters.senderauth import dkim_speedups, rsa_verify
from mailservice.adapters.senderauth.dkim_check import check_arc, check_dkim, dkim_signatures
from mailservice.adapters.senderauth.dmarc_check import check_dmarc, organizational_domain
from mailservice.adapters.senderauth.resolver import AsyncDns, ThreadDns
from mailservice.adapters.senderauth.spf_check import SpfResults, check_spf, helo_domain, spf_domain
from mailservice.domain.sender_auth import NONE, SenderAuth, SmtpSender, unavailable

log = logging.getLogger(__name__)

# The checks are CPU work under the interpreter lock once DNS is prefetched; more threads only contend.
CHECK_THREADS = 2
LARGE_MESSAGE_BYTES = 1024 * 1024
SPF_RESULTS_KEPT = 10_000


@dataclass(frozen=True)
class AuthorFields:
    """What the checks read in the header, found in one scan of it."""

    from_domains: list[str]
    signatures: list[bytes]
    """The DKIM-Signature values."""
    arc_sealed: bool

    @property
    def from_domain(self) -> str | None:
        """The one author domain DMARC speaks for (none with several)."""
        return self.from_domains[0] if len(set(self.from_domains)) == 1 else None


class DnsSenderAuthenticator:
    def __init__(self, dns_: AsyncDns, timeout_seconds: float) -> None:
        self._dns = dns_
        self._timeout = timeout_seconds
        self._spf_results = SpfResults(SPF_RESULTS_KEPT, dns_.cache.clock)
        self._threads = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="sender-auth")
        self._large_thread = ThreadPoolExecutor(1, thread_name_prefix="sender-auth-large")
        organizational_domain("example.com")  # loads the public suffix list now, not in the first delivery
        rsa_verify.install()
        dkim_speedups.install()

    async def authenticate(self, raw: bytes | bytearray, sender: SmtpSender) -> SenderAuth:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        dns_ = ThreadDns(self._dns, loop, started + self._timeout)
        fields = author_fields(raw)
        try:
            return await asyncio.wait_for(self._check(dns_, raw, sender, fields), self._timeout)
        except TimeoutError:
            log.warning("sender_auth.timeout after=%.1fs", time.monotonic() - started)
        except Exception:
            # a message the libraries choke on is still delivered, unauthenticated, never refused
            log.exception("sender_auth.failed")
        return unavailable(
            dkim_signatures(fields.signatures),
            fields.from_domain,
            spf_domain(sender.mail_from, sender.helo),
            helo_domain(sender.helo),
        )

    async def _check(
        self, dns_: ThreadDns, raw: bytes | bytearray, sender: SmtpSender, fields: AuthorFields
    ) -> SenderAuth:
        """Known names are looked up together first, so the checking threads rarely wait for DNS."""
        await dns_.prefetch_txt(_expected_txt_names(sender, fields))
        threads = self._large_thread if len(raw) > LARGE_MESSAGE_BYTES else self._threads
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(threads, self.check_all, dns_, raw, sender, fields)

    def check_all(
        self, dns_: ThreadDns, raw: bytes | bytearray, sender: SmtpSender, fields: AuthorFields
    ) -> SenderAuth:
        """Every check, in the calling thread (DNS through `dns_`)."""
        spf = check_spf(dns_, sender.ip, sender.mail_from, sender.helo, self._spf_results)
        dkim = check_dkim(dns_, raw, fields.signatures, self._timeout)
        arc = check_arc(dns_, raw, self._timeout) if fields.arc_sealed else NONE
        dmarc, verified_domain = check_dmarc(dns_, fields.from_domains, spf, dkim)
        return SenderAuth(spf=spf, dkim=dkim, dmarc=dmarc, arc=arc, verified_domain=verified_domain)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._large_thread.shutdown(wait=False, cancel_futures=True)


def author_fields(raw: bytes | bytearray) -> AuthorFields:
    values = values_by_name(raw, ("from", "dkim-signature", "arc-seal"))
    return AuthorFields(_from_domains(values["from"]), values["dkim-signature"], bool(values["arc-seal"]))


def _expected_txt_names(sender: SmtpSender, fields: AuthorFields) -> set[str]:
    """SPF's first records, every DKIM key, and the DMARC records of the From domain."""
    names = {name for name in (spf_domain(sender.mail_from, sender.helo), helo_domain(sender.helo)) if name}
    names.update(
        f"{s.selector}._domainkey.{s.domain}"
        for s in dkim_signatures(fields.signatures)
        if s.selector and s.domain
    )
    domain = fields.from_domain
    if domain is not None:  # with several author domains DMARC looks nothing up
        names.update({f"_dmarc.{domain}", f"_dmarc.{organizational_domain(domain)}"})
    return names


def _from_domains(from_values: list[bytes]) -> list[str]:
    """The domain of every author address in the From fields (RFC 7489 §6.6.1)."""
    values = [unfold(value).decode("utf-8", "replace") for value in from_values]
    return [
        address.rpartition("@")[2].lower().rstrip(".")
        for _, address in getaddresses(values)
        if "@" in address
    ]
