"""Storage quota of a mailbox, counted on raw message sizes across its folders."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_QUOTA_BYTES = 100 * 1000 * 1000


@dataclass(frozen=True)
class Quota:
    limit_bytes: int
    used_bytes: int

    @property
    def exhausted(self) -> bool:
        return self.used_bytes >= self.limit_bytes

    def allows(self, size: int) -> bool:
        return self.used_bytes + size <= self.limit_bytes
