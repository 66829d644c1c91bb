"""Connection limits for the mail listeners: in total and per client address."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConnectionLimits:
    max_total: int
    max_per_ip: int
    _by_ip: dict[str, int] = field(default_factory=dict)
    _total: int = 0

    def try_acquire(self, ip: str) -> bool:
        if self._total >= self.max_total or self._by_ip.get(ip, 0) >= self.max_per_ip:
            return False
        self._total += 1
        self._by_ip[ip] = self._by_ip.get(ip, 0) + 1
        return True

    def release(self, ip: str) -> None:
        self._total -= 1
        remaining = self._by_ip.get(ip, 1) - 1
        if remaining <= 0:
            self._by_ip.pop(ip, None)
        else:
            self._by_ip[ip] = remaining
