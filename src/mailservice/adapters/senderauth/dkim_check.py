"""DKIM (RFC 6376) with dkimpy: every signature verified on its own, rsa-sha256 and ed25519-sha256; ARC too."""

from __future__ import annotations

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from mailservice.adapters.senderauth.known_answers import DnsTemporaryError, KnownAnswers
from mailservice.domain.sender_auth import FAIL, NONE, PASS, PERMERROR, TEMPERROR, DkimCheck
from mailservice.mime.headers import unfold

_SIGNATURE = b"dkim-signature"
# RFC 6376 §6.1 lets a verifier limit the signatures it checks; a sender cannot make us do unbounded work
MAX_SIGNATURES = 10


def dkim_signatures(values: list[bytes], result: str = NONE) -> tuple[DkimCheck, ...]:
    """The signatures of these DKIM-Signature values (domain, selector, algorithm), given `result`
    unverified."""
    return tuple(_signed_by(unfold(value), result) for value in values[:MAX_SIGNATURES])


def check_dkim(
    dns_: KnownAnswers, raw: bytes | bytearray, signatures: list[bytes], timeout_seconds: float
) -> tuple[DkimCheck, ...]:
    """Every signature among the message's DKIM-Signature values `signatures`, verified."""
    if not signatures:
        return ()  # unsigned: dkimpy would only copy the message (four times, for nothing)
    try:
        message = dkim.DKIM(bytes(raw), timeout=timeout_seconds)
    except dkim.MessageFormatError:
        return dkim_signatures(signatures, PERMERROR)  # a header dkimpy cannot read; still taken
    values = [value for name, value in message.headers if name.lower() == _SIGNATURE][:MAX_SIGNATURES]
    return tuple(_signed_by(value, _verify(message, index, dns_)) for index, value in enumerate(values))


def check_arc(dns_: KnownAnswers, raw: bytes | bytearray, timeout_seconds: float) -> str:
    """The ARC chain validation (RFC 8617 cv=): pass, fail, or none when the message has no chain."""
    try:
        validation, _results, _comment = dkim.ARC(bytes(raw), timeout=timeout_seconds).verify(
            dnsfunc=_TxtLookup(dns_)
        )
    except dkim.DnsTimeoutError:
        return TEMPERROR
    except dkim.DKIMException:
        return FAIL
    return bytes(validation).decode("ascii", "replace").lower() or NONE


def _verify(message: dkim.DKIM, index: int, dns_: KnownAnswers) -> str:
    """dkimpy answers False for a key it could not fetch; the lookup tells why, for RFC 8601's words."""
    lookup = _TxtLookup(dns_)
    try:
        if message.verify(idx=index, dnsfunc=lookup):
            return PASS
    except dkim.DnsTimeoutError:
        return TEMPERROR
    except (dkim.KeyFormatError, dkim.ParameterError, dkim.UnknownKeyTypeError):
        return PERMERROR
    except dkim.DKIMException:
        return FAIL
    if lookup.failed_temporarily:
        return TEMPERROR
    return PERMERROR if lookup.found_nothing else FAIL


def _signed_by(value: bytes, result: str) -> DkimCheck:
    try:
        tags = parse_tag_value(value)
    except InvalidTagValueList:
        return DkimCheck("", "", PERMERROR if result != NONE else NONE)
    return DkimCheck(
        domain=_tag(tags, b"d").lower(), selector=_tag(tags, b"s"), result=result, algorithm=_tag(tags, b"a")
    )


def _tag(tags: dict[bytes, bytes], name: bytes) -> str:
    return tags.get(name, b"").decode("ascii", "replace").strip()


class _TxtLookup:
    """dkimpy's `dnsfunc`: the first TXT record of a name, or None."""

    def __init__(self, dns_: KnownAnswers) -> None:
        self._dns = dns_
        self.failed_temporarily = False
        self.found_nothing = False

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        try:
            records = self._dns.txt(name.decode("ascii", "replace").rstrip("."))
        except DnsTemporaryError as error:
            self.failed_temporarily = True
            raise dkim.DnsTimeoutError(str(error)) from error
        self.found_nothing = not records
        return records[0] if records else None
