"""Removing incoming `Authentication-Results` fields that claim our authserv-id (RFC 8601 §5).

Such a field can only be a forgery or a leftover: we add ours after this, so a reader that trusts
fields carrying our name sees only the one we computed.
"""

from __future__ import annotations

import re

_FIELD_START = re.compile(rb"(?<=\n)(?![ \t])")
_CLAIM = re.compile(rb"authentication-results[ \t]*:\s*(?:\([^)]*\)\s*)*([^\s;(]+)", re.IGNORECASE)


def without_claimed_results(raw: bytes | bytearray, authserv_id: str) -> bytes | bytearray:
    """`raw` without the header fields `Authentication-Results: <authserv_id>; ...` (any case)."""
    header_end = _header_end(raw)
    header = raw[:header_end]
    if b"authentication-results" not in header.lower():
        return raw
    ours = authserv_id.lower().encode("ascii", "replace")
    kept = [field for field in _FIELD_START.split(header) if _claimed_id(field) != ours]
    return b"".join(kept) + raw[header_end:]


def _claimed_id(field: bytes) -> bytes | None:
    match = _CLAIM.match(field)
    return match.group(1).lower() if match else None


def _header_end(raw: bytes | bytearray) -> int:
    """Where the header's fields end: at the blank line, which stays with the body."""
    if raw.startswith(b"\r\n") or raw.startswith(b"\n"):
        return 0
    ends = [found + 1 for found in (raw.find(b"\n\r\n"), raw.find(b"\n\n")) if found >= 0]
    return min(ends) if ends else len(raw)
