"""What the HTTP edge is busy with right now: the figures /readyz reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HttpLoad:
    max_concurrent_requests: int  # 0: unlimited
    requests_in_flight: int = 0
    reading_bodies: int = 0

    @property
    def saturated(self) -> bool:
        return 0 < self.max_concurrent_requests <= self.requests_in_flight
