"""Calendar-month arithmetic for subscription periods."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """Move `moment` forward by whole calendar months, clamping to the last day of a shorter month.

    Jan 31 + 1 month is Feb 28 (Feb 29 in a leap year); the time of day and time zone are kept.
    """
    if months < 0:
        raise ValueError("months must not be negative")
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def extended_end(current_end: datetime | None, months: int, now: datetime) -> datetime:
    """The end of a paid term after `months` more (at least one), counted from the later of now and
    `current_end`: paying early loses nothing, and a term that has run out restarts from now."""
    start = current_end if current_end is not None and current_end > now else now
    return add_months(start, max(1, months))
