"""The DNS a check reads: answers it was handed, else its process's cache; a name in neither is missing.

The checks never wait for DNS. A check that meets a name it has no answer for sees a temporary error
(so nothing computed from it can pass, and no SPF result is kept), and the name is noted in `missing`:
its caller looks the names up asynchronously and runs the check again with their answers (see
`checker.py`). `expires` is the earliest expiry of the answers read since `track_expiry()`, and
`failed` whether a lookup failed since, so a result computed from them can be kept exactly as long as
they are, and one that met a failure not at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mailservice.adapters.senderauth.dns_cache import CachedAnswer, DnsAnswerCache, Records, cache_key


class DnsTemporaryError(Exception):
    """No answer in time, or no server answered: the result of a check that needed it is `temperror`."""


@dataclass(frozen=True)
class Answer:
    """One looked-up name, as sent with a check: its records and how many seconds they may be kept,
    or `records` None when the lookup failed (timeout, SERVFAIL, no server): a temporary error."""

    name: str
    rdtype: str
    records: Records | None
    ttl: float


class KnownAnswers:
    def __init__(self, cache: DnsAnswerCache, answers: tuple[Answer, ...] = ()) -> None:
        self._cache = cache
        self._given: dict[tuple[str, str], CachedAnswer | None] = {}
        for answer in answers:
            key = (cache_key(answer.name), answer.rdtype)
            if answer.records is None:
                self._given[key] = None
            else:
                self._given[key] = cache.put(answer.name, answer.rdtype, answer.records, answer.ttl)
        self.missing: dict[tuple[str, str], None] = {}  # in the order met
        self.expires = math.inf
        self.failed = False

    def track_expiry(self) -> None:
        self.expires = math.inf
        self.failed = False

    def lacks(self, name: str, rdtype: str) -> bool:
        """Whether `name` has neither a given answer nor a cached one."""
        key = (cache_key(name), rdtype)
        return key not in self._given and self._cache.get(name, rdtype) is None

    def query(self, name: str, rdtype: str) -> list[object]:
        """The records of `name` ([] for none); DnsTemporaryError for a failed or missing lookup."""
        key = (cache_key(name), rdtype)
        answer = self._given[key] if key in self._given else self._cache.get(name, rdtype)
        if answer is None:
            self.failed = True
            if key not in self._given:
                self.missing[key] = None
                raise DnsTemporaryError(f"{rdtype} {name}: not looked up yet")
            raise DnsTemporaryError(f"{rdtype} {name}: lookup failed")
        self.expires = min(self.expires, answer.expires)
        return list(answer.records)

    def txt(self, name: str) -> list[bytes]:
        """Each TXT record of `name`, its strings joined."""
        return [b"".join(value) for value in self.query(name, "TXT") if isinstance(value, tuple)]
