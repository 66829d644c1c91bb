"""The two e-mails about a mailbox's period ending: a reminder before it ends, and a notice once it has."""

from __future__ import annotations

import enum


class ExpiryNotice(enum.StrEnum):
    """Each is sent at most once per period: per mailbox and expiry moment. The value names the template."""

    REMINDER = "renewal_reminder"
    EXPIRED = "mailbox_expired"
