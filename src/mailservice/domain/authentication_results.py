"""Our `Authentication-Results` header (RFC 8601) for a sender-authentication verdict."""

from __future__ import annotations

import re

from mailservice.domain.sender_auth import SenderAuth

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def authentication_results(authserv_id: str, auth: SenderAuth) -> bytes:
    """The whole header field, folded one method per line, ending in CRLF."""
    methods = [_spf(auth), *_dkim(auth), _dmarc(auth), f"arc={_word(auth.arc)}"]
    text = f"Authentication-Results: {_word(authserv_id)};\r\n\t" + ";\r\n\t".join(methods) + "\r\n"
    return text.encode("ascii")


def _spf(auth: SenderAuth) -> str:
    spf = auth.spf
    text = f"spf={_word(spf.result)}"
    if spf.domain:
        text += f" smtp.mailfrom={_word(spf.domain)}"
    if spf.helo:
        text += f";\r\n\tspf={_word(spf.helo_result)} smtp.helo={_word(spf.helo)}"
    return text


def _dkim(auth: SenderAuth) -> list[str]:
    if not auth.dkim:
        return ["dkim=none"]
    return [
        f"dkim={_word(s.result)} header.d={_word(s.domain) or '-'} header.s={_word(s.selector) or '-'}"
        + (f" header.a={_word(s.algorithm)}" if s.algorithm else "")
        for s in auth.dkim
    ]


def _dmarc(auth: SenderAuth) -> str:
    dmarc = auth.dmarc
    text = f"dmarc={_word(dmarc.result)}"
    if dmarc.policy:
        text += f" (p={_word(dmarc.policy)})"
    if dmarc.from_domain:
        text += f" header.from={_word(dmarc.from_domain)}"
    return text


def _word(value: str) -> str:
    """A value safe in the header: no spaces, separators or line breaks a sender could inject."""
    return _UNSAFE.sub("", value)[:255]
