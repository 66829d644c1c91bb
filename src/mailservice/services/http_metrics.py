"""HTTP request counts and latencies of this process, for /admin/metrics and the Prometheus /metrics.

Counts are per node: with several nodes, scrape each (Prometheus adds them up).
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SAMPLES_PER_ROUTE = 2048


@dataclass
class _RouteLatency:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total_seconds: float = 0.0
    count: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_PER_ROUTE))

    def add(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total_seconds += seconds
        self.count += 1
        self.recent.append(seconds)

    def percentiles(self) -> dict[str, float]:
        ordered = sorted(self.recent)
        if not ordered:
            return {}
        return {
            f"p{q}": round(ordered[min(len(ordered) - 1, len(ordered) * q // 100)] * 1000, 3)
            for q in (50, 90, 99)
        }


@dataclass(frozen=True)
class RouteKey:
    method: str
    route: str


class HttpMetrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency: dict[RouteKey, _RouteLatency] = {}
        self.outcomes: Counter[tuple[str, int]] = Counter()

    def record(
        self, method: str, route: str, status: int, seconds: float, kinds: frozenset[str] = frozenset()
    ) -> None:
        """One answered request; `kinds` are the outcome counters its route feeds ("key_proof", "resolve")."""
        self.requests[(method, route, status)] += 1
        self.latency.setdefault(RouteKey(method, route), _RouteLatency()).add(seconds)
        for kind in kinds:
            self.outcomes[(kind, status)] += 1

    def summary(self, top: int = 10) -> dict[str, object]:
        """Requests, latency percentiles (ms) per route, and the most frequent error responses."""
        errors = Counter({k: n for k, n in self.requests.items() if k[2] >= 400})
        return {
            "requests_total": sum(self.requests.values()),
            "key_proofs": self._outcomes("key_proof", failed_status=401),
            "resolves": self._outcomes("resolve", failed_status=None),
            "routes": [
                {"method": key.method, "route": key.route, "count": stats.count, **stats.percentiles()}
                for key, stats in sorted(self.latency.items(), key=lambda item: -item[1].count)
            ],
            "top_errors": [
                {"method": method, "route": route, "status": status, "count": count}
                for (method, route, status), count in errors.most_common(top)
            ],
        }

    def _outcomes(self, kind: str, failed_status: int | None) -> dict[str, int]:
        """Requests of `kind`: all, answered 2xx, and refused with `failed_status` (or any 4xx/5xx)."""
        chosen = [(status, n) for (counted, status), n in self.outcomes.items() if counted == kind]
        failed = sum(
            n for status, n in chosen if (status == failed_status if failed_status else status >= 400)
        )
        return {
            "total": sum(n for _, n in chosen),
            "ok": sum(n for s, n in chosen if s < 300),
            "failed": failed,
        }

    def cumulative_buckets(self, key: RouteKey) -> list[tuple[str, int]]:
        stats = self.latency[key]
        bounds = [*(f"{bound:g}" for bound in LATENCY_BUCKETS), "+Inf"]
        running, result = 0, []
        for bound, count in zip(bounds, stats.buckets, strict=True):
            running += count
            result.append((bound, running))
        return result
