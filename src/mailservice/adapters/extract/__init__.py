"""What AI agents read in a message: one-time codes, links by purpose, and a text view safe to show.

`extract_codes` ranks verification codes, `extract_links` lists links with their kind (verify,
magic-link, reset, unsubscribe, other), and `safe_view` gives only the text a person would see,
with numbered links, without hidden HTML, invisible characters or quoted history.
"""

from __future__ import annotations

from .codes import CONFIDENT_SCORE, CodeCandidate, extract_codes
from .links import Link, extract_links
from .safe_text import SafeView, safe_view

__all__ = [
    "CONFIDENT_SCORE",
    "CodeCandidate",
    "Link",
    "SafeView",
    "extract_codes",
    "extract_links",
    "safe_view",
]
