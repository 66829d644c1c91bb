"""DNS answers of the authentication checks, kept for their TTL: records, and names that have none.

Only answers are kept: a lookup that failed (no server answered, SERVFAIL, out of time) is never
stored, so a temporary error is asked again at the next message and can never stand in for a pass.
A negative answer (NXDOMAIN, or the name without records of the type) is kept for the TTL its
response gives it (RFC 2308: the SOA's TTL, at most its minimum field; dnspython's 300 s without SOA).

Keyed by the name as text, lowercased: reading an answer costs a dictionary lookup, cheaper than
building the `dns.name.Name` dnspython's own cache is keyed by. The serving process keeps one (written
on the event loop, read by its checking threads too; each operation on the dictionary is atomic under
the interpreter lock), and each parser worker that runs the checks keeps its own, filled from the
answers sent with the messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Records = tuple[object, ...]


@dataclass(frozen=True)
class CachedAnswer:
    records: Records
    expires: float
    """On the cache's clock (`time.monotonic` unless a test gives another)."""


class DnsAnswerCache:
    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self.clock = clock
        self._answers: dict[tuple[str, str], CachedAnswer] = {}

    def get(self, name: str, rdtype: str) -> CachedAnswer | None:
        """The answer if it is still within its TTL."""
        key = (cache_key(name), rdtype)
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.expires <= self.clock():
            self._answers.pop(key, None)
            return None
        return answer

    def put(self, name: str, rdtype: str, records: Records, ttl: float) -> CachedAnswer:
        answer = CachedAnswer(records, self.clock() + max(ttl, 0.0))
        if self._size <= 0 or ttl <= 0:
            return answer
        if len(self._answers) >= self._size:
            self._evict()
        self._answers[(cache_key(name), rdtype)] = answer
        return answer

    def _evict(self) -> None:
        """Expired answers first; when none, the oldest quarter (insertion order), so a flood of new
        names costs one sweep per few thousand lookups."""
        now = self.clock()
        expired = [key for key, answer in list(self._answers.items()) if answer.expires <= now]
        if not expired:
            expired = list(self._answers)[: max(1, self._size // 4)]
        for key in expired:
            self._answers.pop(key, None)


def cache_key(name: str) -> str:
    return name.lower().rstrip(".")
