"""Per-client rate limits as token buckets, kept in this process.

Each node limits on its own: with N nodes behind a load balancer a client can make up to N times the
limit. That is enough to stop one client from hammering the key-proof and recovery endpoints; the limits
that must hold across nodes (one recovery e-mail a minute, three support messages an hour) are kept in the
database instead.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from mailservice.ports import Clock

MAX_TRACKED_CLIENTS = 100_000
IPV6_SOURCE_PREFIX = 64  # one IPv6 host usually holds a whole /64


def source_of(peer: str) -> str:
    """Who a request or login counts against: an IPv4 address, or the /64 network of an IPv6 address
    (a client walking the addresses of its own network is still one client)."""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_SOURCE_PREFIX), strict=False))
    return str(address)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`allowance` requests per `period_seconds` per (group, client), in bursts of at most that many."""

    def __init__(
        self,
        allowance: int,
        clock: Clock,
        max_clients: int = MAX_TRACKED_CLIENTS,
        period_seconds: float = 60.0,
    ) -> None:
        self._capacity = float(allowance)
        self._refill_per_second = allowance / period_seconds
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self._capacity > 0

    def acquire(self, group: str, client: str, cost: float = 1.0) -> int | None:
        """None when allowed; otherwise the whole seconds to wait before the next try."""
        now = self._clock.now().timestamp()
        bucket = self._bucket((group, client), now)
        bucket.tokens = self._tokens_at(bucket, now)
        bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return None
        return max(1, math.ceil((cost - bucket.tokens) / self._refill_per_second))

    def refund(self, group: str, client: str, cost: float = 1.0) -> None:
        """Give back what an `acquire` took, for a request that turned out not to count."""
        bucket = self._buckets.get((group, client))
        if bucket is not None:
            bucket.tokens = min(self._capacity, bucket.tokens + cost)

    def _bucket(self, key: tuple[str, str], now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_clients:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(self._capacity, now)
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely: forgetting them changes nothing.

        If that is not enough, keep the emptiest half: a flood of new clients must not wipe out the
        clients that are being limited.
        """
        full_after = self._capacity / self._refill_per_second
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}
        if len(self._buckets) >= self._max_clients:
            emptiest = sorted(self._buckets.items(), key=lambda item: self._tokens_at(item[1], now))
            self._buckets = dict(emptiest[: self._max_clients // 2])

    def _tokens_at(self, bucket: _Bucket, now: float) -> float:
        return min(self._capacity, bucket.tokens + (now - bucket.updated) * self._refill_per_second)
