"""The one way a moment is written for the outside world: RFC 3339 in UTC, ending in `Z`.

API JSON, the CLI, MCP, pages and e-mails all print times through `rfc3339`, so one instant always reads
the same wherever an agent or a person sees it. Fractions of a second are kept when there are any.
"""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """`2027-01-05T18:44:26Z` (or `...26.992387Z`); a naive moment is taken to be UTC already."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat().removesuffix("+00:00") + "Z"


def rfc3339_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)
