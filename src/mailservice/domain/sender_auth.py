"""The sender-authentication verdict of a message: SPF, each DKIM signature, DMARC and ARC.

Results use the RFC 8601 words (`pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`,
`permerror`, `policy`). The verdict is computed once at delivery and stored with the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, is_dataclass
from typing import Any

PASS = "pass"
FAIL = "fail"
NONE = "none"
TEMPERROR = "temperror"
PERMERROR = "permerror"


@dataclass(frozen=True)
class SmtpSender:
    """What the SMTP client told us about itself: its address, HELO name and MAIL FROM."""

    ip: str | None
    helo: str | None
    mail_from: str


@dataclass(frozen=True)
class SpfCheck:
    """SPF of the MAIL FROM domain (or of the HELO name for a null sender, RFC 7208 §2.4)."""

    result: str
    domain: str | None
    helo_result: str = NONE
    helo: str | None = None


@dataclass(frozen=True)
class DkimCheck:
    domain: str
    selector: str
    result: str
    algorithm: str = ""


@dataclass(frozen=True)
class DmarcCheck:
    result: str
    policy: str | None
    from_domain: str | None


@dataclass(frozen=True)
class SenderAuth:
    spf: SpfCheck
    dkim: tuple[DkimCheck, ...]
    dmarc: DmarcCheck
    arc: str = NONE
    verified_domain: str | None = field(default=None)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready values, as `dataclasses.asdict` gives them (tuples as lists), built
        without its deep copy of every value: this runs for every message stored."""
        plain: dict[str, Any] = _plain(self)
        return plain

    @classmethod
    def from_json(cls, text: str) -> SenderAuth:
        data: dict[str, Any] = json.loads(text)
        return cls(
            spf=SpfCheck(**data["spf"]),
            dkim=tuple(DkimCheck(**signature) for signature in data["dkim"]),
            dmarc=DmarcCheck(**data["dmarc"]),
            arc=data.get("arc", NONE),
            verified_domain=data.get("verified_domain"),
        )


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {name: _plain(item) for name, item in vars(value).items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def unavailable(
    signatures: tuple[DkimCheck, ...], from_domain: str | None, spf_domain: str | None, helo: str | None
) -> SenderAuth:
    """The verdict when the checks could not finish in time: every result `temperror`, never `pass`."""
    return SenderAuth(
        spf=SpfCheck(TEMPERROR, spf_domain, TEMPERROR, helo),
        dkim=tuple(DkimCheck(s.domain, s.selector, TEMPERROR, s.algorithm) for s in signatures),
        dmarc=DmarcCheck(TEMPERROR, None, from_domain),
        arc=TEMPERROR,
    )
