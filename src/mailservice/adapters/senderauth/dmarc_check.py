"""DMARC (RFC 7489): the From domain's policy, and whether SPF or a DKIM signature aligns with it.

authheaders has a DMARC check, but it weighs one DKIM result only, reads the public suffix list
from disk on every alignment test and wants DNS answers as bare strings; the evaluation is short,
so it is done here over the same resolver, with publicsuffix2's list loaded once.
"""

from __future__ import annotations

from functools import lru_cache

from publicsuffix2 import PublicSuffixList

from mailservice.adapters.senderauth.known_answers import DnsTemporaryError, KnownAnswers
from mailservice.domain.sender_auth import (
    FAIL,
    NONE,
    PASS,
    PERMERROR,
    TEMPERROR,
    DkimCheck,
    DmarcCheck,
    SpfCheck,
)

_POLICIES = ("none", "quarantine", "reject")


def check_dmarc(
    dns_: KnownAnswers, from_domains: list[str], spf: SpfCheck, dkim: tuple[DkimCheck, ...]
) -> tuple[DmarcCheck, str | None]:
    """The DMARC result and the From domain it authenticates (None when it is not authenticated).

    Without a DMARC record the From domain still counts as authenticated when a passing DKIM
    signature or SPF aligns with it; only the result stays `none`.
    """
    if len(set(from_domains)) != 1:
        return DmarcCheck(PERMERROR if from_domains else NONE, None, None), None
    from_domain = from_domains[0]
    try:
        tags = _policy_record(dns_, from_domain)
    except DnsTemporaryError:
        return DmarcCheck(TEMPERROR, None, from_domain), None
    aligned = _aligned(from_domain, spf, dkim, tags or {})
    if tags is None:
        return DmarcCheck(NONE, None, from_domain), from_domain if aligned else None
    policy = _policy(from_domain, tags)
    return DmarcCheck(PASS if aligned else FAIL, policy, from_domain), from_domain if aligned else None


@lru_cache(maxsize=4096)
def organizational_domain(domain: str) -> str:
    """The registrable domain (public suffix plus one label); two labels for a suffix the list lacks."""
    domain = domain.lower().rstrip(".")
    found = str(_suffix_list().get_public_suffix(domain) or domain)
    if "." not in found:
        return ".".join(domain.split(".")[-2:])
    return found


def _policy_record(dns_: KnownAnswers, from_domain: str) -> dict[str, str] | None:
    """The record at the From domain, else at its organizational domain (RFC 7489 §6.6.3)."""
    tags = _record_at(dns_, from_domain)
    org = organizational_domain(from_domain)
    if tags is None and org != from_domain:
        tags = _record_at(dns_, org)
        if tags is not None:
            tags["_inherited"] = "y"
    return tags


def _record_at(dns_: KnownAnswers, domain: str) -> dict[str, str] | None:
    records = [r for r in dns_.txt(f"_dmarc.{domain}") if _is_dmarc(r)]
    if len(records) != 1:
        return None
    tags = _tags(records[0].decode("ascii", "replace"))
    if tags.get("p") not in _POLICIES and "rua" not in tags:
        return None
    return tags


def _is_dmarc(record: bytes) -> bool:
    """The record starts with the tag v=DMARC1 (RFC 7489 §6.6.3: other TXT records are ignored)."""
    first = record.split(b";", 1)[0]
    return b"".join(first.split()).lower() == b"v=dmarc1"


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for item in record.split(";"):
        name, _, value = item.partition("=")
        if name.strip():
            tags[name.strip().lower()] = value.strip().lower()
    return tags


def _policy(from_domain: str, tags: dict[str, str]) -> str:
    policy = tags.get("p", "none")
    if tags.get("_inherited") and tags.get("sp") in _POLICIES:
        policy = tags["sp"]
    return policy if policy in _POLICIES else "none"


def _aligned(from_domain: str, spf: SpfCheck, dkim: tuple[DkimCheck, ...], tags: dict[str, str]) -> bool:
    dkim_strict, spf_strict = tags.get("adkim") == "s", tags.get("aspf") == "s"
    if spf.result == PASS and spf.domain and _same(from_domain, spf.domain, spf_strict):
        return True
    return any(s.result == PASS and _same(from_domain, s.domain, dkim_strict) for s in dkim)


def _same(from_domain: str, other: str, strict: bool) -> bool:
    other = other.lower().rstrip(".")
    if strict:
        return other == from_domain
    return organizational_domain(other) == organizational_domain(from_domain)


@lru_cache(maxsize=1)
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()
