"""Storage quota of a mailbox, counted on raw message sizes across its folders."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_QUOTA_BYTES = 100 * 1000 * 1000


@dataclass(frozen=True)
class Quota:
    """What a mailbox holds against what it may hold.

    `messages` is None where only bytes were read (the delivery path never counts messages).
    """

    used_bytes: int
    limit_bytes: int
    messages: int | None = None

    @classmethod
    def of_mailbox(
        cls, own_limit: int | None, used_bytes: int, default_limit: int, messages: int | None = None
    ) -> Quota:
        """A mailbox's quota: its own limit when one is set, else the configured default."""
        return cls(used_bytes, own_limit or default_limit, messages)

    @property
    def exhausted(self) -> bool:
        return self.used_bytes >= self.limit_bytes

    def allows(self, size: int) -> bool:
        return self.used_bytes + size <= self.limit_bytes

    def with_added(self, size: int) -> Quota:
        """The quota once a message of `size` bytes is stored."""
        messages = None if self.messages is None else self.messages + 1
        return Quota(self.used_bytes + size, self.limit_bytes, messages)
