"""Flags as IMAP writes them: system flags first in a fixed order (\\Recent last of them, as Dovecot
writes it), then keywords. \\Recent is never stored, so a client may not set or clear it."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from mailservice.domain.messages import is_keyword
from mailservice.protocols.imap.replies import bad

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_SYSTEM_BY_LOWER = {flag.lower(): flag for flag in SYSTEM_FLAGS}
_ORDER = {flag: index for index, flag in enumerate((*SYSTEM_FLAGS, "\\Recent"))}


@lru_cache(maxsize=1024)
def stored_flags_text(flags: frozenset[str]) -> bytes:
    """`flags_text` of a message's flags; the same few sets recur, so they are kept."""
    return flags_text(flags)


def flags_text(flags: Iterable[str]) -> bytes:
    ordered = sorted(flags, key=lambda flag: (_ORDER.get(flag, len(_ORDER)), flag))
    return " ".join(ordered).encode("ascii", "replace")


def keywords_of(flags: Iterable[str]) -> list[str]:
    """The keywords among `flags` (not the system flags, which start with a backslash)."""
    return [flag for flag in flags if is_keyword(flag)]


def normalize_flags(flags: Iterable[str]) -> frozenset[str]:
    """System flags in their canonical case; any other, \\Recent too, is BAD (Dovecot's words)."""
    found = set()
    for flag in flags:
        if flag.startswith("\\"):
            canonical = _SYSTEM_BY_LOWER.get(flag.lower())
            if canonical is None:
                raise bad(f"Error in IMAP command: Invalid system flag {flag.upper()}")
            found.add(canonical)
            continue
        found.add(flag)
    return frozenset(found)
