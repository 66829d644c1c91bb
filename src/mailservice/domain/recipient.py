"""Recipient addresses of our domain: `mbx_xxx+tag@domain`, case-insensitive."""

from __future__ import annotations

from dataclasses import dataclass

from mailservice.domain.errors import RelayDenied, UnknownRecipient

TAG_SEPARATOR = "+"
MAX_TAG_LENGTH = 64


@dataclass(frozen=True)
class Recipient:
    login: str
    tag: str | None
    address: str


def parse_recipient(address: str, local_domains: frozenset[str]) -> Recipient:
    """Split an envelope recipient into the mailbox login and its `+tag`; refuse other domains."""
    cleaned = address.strip().strip("<>").strip()
    local, at, domain = cleaned.rpartition("@")
    if not at or not local or not domain:
        raise UnknownRecipient(f"not a valid address: {address!r}")
    if domain.lower().rstrip(".") not in local_domains:
        raise RelayDenied("relay access denied")
    login, _, tag = local.lower().partition(TAG_SEPARATOR)
    if not login:
        raise UnknownRecipient("no such mailbox")
    return Recipient(login=login, tag=tag[:MAX_TAG_LENGTH] or None, address=cleaned)


POSTMASTER = "postmaster"


def is_postmaster(address: str, local_domains: frozenset[str]) -> bool:
    """`<Postmaster>` alone or postmaster at one of our domains, in any case (RFC 5321 §4.5.1)."""
    cleaned = address.strip().strip("<>").strip()
    local, at, domain = cleaned.rpartition("@")
    if not at:
        return cleaned.lower() == POSTMASTER
    return local.lower() == POSTMASTER and domain.lower().rstrip(".") in local_domains
