"""The checks of one message (SPF, DKIM, DMARC, ARC), run where there is a core to spare.

This is the CPU part of sender authentication: canonicalization and hashing, signature verification,
SPF evaluation and DMARC. It runs in a parser worker process (see `adapters/parser_processes.py`), or in a
thread of the serving process for a message over 1 MiB or when there are no workers, and it never
waits for DNS: it reads the answers sent with the message and its process's own cache
(`KnownAnswers`), and answers `NeedAnswers` with the names it found no answer for. The serving process
looks those up asynchronously, on its event loop and through its cache, and sends the message again
with them (`authenticator.py`). The first run asks at once for every record the checks will surely
want (SPF of MAIL FROM and HELO, every DKIM key, the From domain's DMARC records), so a new sender's
answers are fetched together, not one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import getaddresses

from mailservice.adapters.senderauth import dkim_speedups, rsa_verify
from mailservice.adapters.senderauth.dkim_check import check_arc, check_dkim, dkim_signatures
from mailservice.adapters.senderauth.dmarc_check import check_dmarc, organizational_domain
from mailservice.adapters.senderauth.dns_cache import DnsAnswerCache, cache_key
from mailservice.adapters.senderauth.known_answers import Answer, KnownAnswers
from mailservice.adapters.senderauth.spf_check import SpfResults, check_spf, helo_domain, spf_domain
from mailservice.domain.sender_auth import NONE, SenderAuth, SmtpSender, unavailable
from mailservice.mime.header_fields import values_by_name
from mailservice.mime.headers import unfold

SPF_RESULTS_KEPT = 10_000


@dataclass(frozen=True)
class CheckRequest:
    """A message as received, who sent it, and the answers looked up for it so far."""

    raw: bytes | bytearray
    sender: SmtpSender
    answers: tuple[Answer, ...]
    timeout_seconds: float


@dataclass(frozen=True)
class NeedAnswers:
    """The check cannot finish without these (name, record type) answers."""

    names: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CheckFailed:
    """A message the libraries choke on (it is still delivered, unauthenticated, never refused)."""

    reason: str


CheckOutcome = SenderAuth | NeedAnswers | CheckFailed


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


class Checker:
    """The checks, with what one process keeps between messages: DNS answers for their TTL (in
    `cache`), SPF results as long as the answers behind them, parsed keys (`dkim_speedups`)."""

    def __init__(self, cache: DnsAnswerCache) -> None:
        self._cache = cache
        self._spf_results = SpfResults(SPF_RESULTS_KEPT, cache.clock)
        organizational_domain("example.com")  # loads the public suffix list now, not in the first delivery
        rsa_verify.install()
        dkim_speedups.install()

    def check(self, request: CheckRequest) -> CheckOutcome:
        try:
            return self._check(request)
        except Exception as error:  # dkimpy and pyspf raise more than they document
            return CheckFailed(f"{type(error).__name__}: {error}")

    def _check(self, request: CheckRequest) -> SenderAuth | NeedAnswers:
        dns_ = KnownAnswers(self._cache, request.answers)
        raw, sender = request.raw, request.sender
        fields = author_fields(raw)
        wanted = tuple((cache_key(name), "TXT") for name in sorted(expected_txt_names(sender, fields)))
        missing = tuple(name for name in wanted if dns_.lacks(*name))
        if missing:
            return NeedAnswers(missing)
        spf = check_spf(dns_, sender.ip, sender.mail_from, sender.helo, self._spf_results)
        dkim = check_dkim(dns_, raw, fields.signatures, request.timeout_seconds)
        arc = check_arc(dns_, raw, request.timeout_seconds) if fields.arc_sealed else NONE
        dmarc, verified_domain = check_dmarc(dns_, fields.from_domains, spf, dkim)
        if dns_.missing:
            return NeedAnswers(tuple(dns_.missing))
        return SenderAuth(spf=spf, dkim=dkim, dmarc=dmarc, arc=arc, verified_domain=verified_domain)


def unavailable_verdict(raw: bytes | bytearray, sender: SmtpSender) -> SenderAuth:
    """Every result `temperror` (never `pass`), for a message whose checks could not finish."""
    fields = author_fields(raw)
    return unavailable(
        dkim_signatures(fields.signatures),
        fields.from_domain,
        spf_domain(sender.mail_from, sender.helo),
        helo_domain(sender.helo),
    )


def author_fields(raw: bytes | bytearray) -> AuthorFields:
    values = values_by_name(raw, ("from", "dkim-signature", "arc-seal"))
    return AuthorFields(_from_domains(values["from"]), values["dkim-signature"], bool(values["arc-seal"]))


def expected_txt_names(sender: SmtpSender, fields: AuthorFields) -> set[str]:
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
