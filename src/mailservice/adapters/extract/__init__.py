"""What AI agents read in a message: one-time codes, links by purpose, and a text view safe to show.

`extract_codes` ranks verification codes, `extract_links` lists links with their kind (verify,
magic-link, reset, unsubscribe, other), `readable_text` is the whole text a person would see, and
`safe_view` the same without quoted history, with numbered links. Both drop hidden HTML and
invisible characters: this is the one HTML-to-text engine.
"""

from __future__ import annotations

from .codes import CONFIDENT_SCORE, CodeCandidate, extract_codes
from .links import Link, extract_links
from .safe_text import SafeView, readable_text, safe_view

__all__ = [
    "CONFIDENT_SCORE",
    "CodeCandidate",
    "Link",
    "SafeView",
    "extract_codes",
    "extract_links",
    "readable_text",
    "safe_view",
]
