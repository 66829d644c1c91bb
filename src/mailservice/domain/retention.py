"""How long a mailbox keeps its mail, and whether a full mailbox makes room by dropping read mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailservice.domain.errors import InvalidInput

MAX_AGE_DAYS_LIMIT = 36_500


@dataclass(frozen=True)
class RetentionPolicy:
    """`max_age_days`: messages older than this many days are deleted (None: kept forever).
    `delete_oldest_read_when_full`: a message that does not fit makes room by deleting the oldest
    messages marked \\Seen (never unread ones) instead of being refused."""

    max_age_days: int | None
    delete_oldest_read_when_full: bool

    def __post_init__(self) -> None:
        if self.max_age_days is not None and not 1 <= self.max_age_days <= MAX_AGE_DAYS_LIMIT:
            raise InvalidInput(
                f"max_age_days must be between 1 and {MAX_AGE_DAYS_LIMIT}, or null to keep mail forever"
            )

    @classmethod
    def from_settings(cls, max_age_days: int, delete_oldest_read_when_full: bool) -> RetentionPolicy:
        """The configured default: 0 days means keep forever."""
        return cls(max_age_days or None, delete_oldest_read_when_full)

    def cutoff(self, now: datetime) -> datetime | None:
        """Messages received before this moment are past their age; None when mail is kept forever."""
        return None if self.max_age_days is None else now - timedelta(days=self.max_age_days)


@dataclass(frozen=True)
class MailboxRetention:
    """A mailbox's policy, and whether the mailbox chose it or follows the configured default."""

    policy: RetentionPolicy
    is_default: bool
