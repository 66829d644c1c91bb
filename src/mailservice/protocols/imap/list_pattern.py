"""LIST patterns: reference plus mailbox pattern, `*` matching anything and `%` anything but the
hierarchy separator; INBOX matched in any case."""

from __future__ import annotations

import re

from mailservice.domain.mail_session import HIERARCHY_SEPARATOR


def list_pattern(reference: str, pattern: str) -> re.Pattern[str]:
    full = _join(reference, pattern)
    pieces = []
    for char in full:
        if char == "*":
            pieces.append(".*")
        elif char == "%":
            pieces.append(f"[^{re.escape(HIERARCHY_SEPARATOR)}]*")
        else:
            pieces.append(re.escape(char))
    text = "".join(pieces)
    if full[:5].upper() == "INBOX":
        text = "(?i:INBOX)" + "".join(pieces[5:])
    return re.compile(text + r"\Z", re.DOTALL)


def _join(reference: str, pattern: str) -> str:
    if not reference or pattern.startswith(HIERARCHY_SEPARATOR):
        return pattern
    return reference + pattern


def parents(name: str) -> list[str]:
    """ "a/b/c" -> ["a", "a/b"]."""
    pieces = name.split(HIERARCHY_SEPARATOR)
    return [HIERARCHY_SEPARATOR.join(pieces[:index]) for index in range(1, len(pieces))]
