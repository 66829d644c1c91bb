"""Web addresses written out in text, and which addresses count as web links.

A bare address ends at whitespace, quotes or angle brackets; punctuation that ends the sentence
(".", ",", "!", ...) and closing brackets without an opening one inside the address are not part
of it. `<https://...>` and `(https://...)` wrappers are reported so callers can replace them whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_BARE = re.compile(r"""https?://[^\s<>"'`\\^{}|\x00-\x1f\x7f]+""", re.IGNORECASE)
_TRAILING = ".,;:!?*'\"…\u2018\u2019“”»«"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_MAX_URL = 4096


@dataclass(frozen=True, slots=True)
class UrlSpan:
    """An address found in text; `start`/`end` cover a wrapping `<...>` or `(...)` when present."""

    url: str
    start: int
    end: int
    wrapped: str  # "", "<>" or "()"


def find_urls(text: str) -> list[UrlSpan]:
    found: list[UrlSpan] = []
    if "://" not in text:
        return found
    for match in _BARE.finditer(text):
        if match.end() - match.start() > _MAX_URL:
            continue
        url = _trim(match.group(0))
        if not is_web_url(url):
            continue
        start, end = match.start(), match.start() + len(url)
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if (before, after) in (("<", ">"), ("(", ")")):
            found.append(UrlSpan(url, start - 1, end + 1, before + after))
        else:
            found.append(UrlSpan(url, start, end, ""))
    return found


def _trim(url: str) -> str:
    while url:
        last = url[-1]
        unbalanced = last in _PAIRS and url.count(last) > url.count(_PAIRS[last])
        if last not in _TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def clean_href(href: str) -> str:
    """An href as a browser would follow it: tabs and newlines removed, outer spaces stripped."""
    return _TAB_NEWLINE.sub("", href).strip(" \x0c")


def is_web_url(url: str) -> bool:
    """An absolute http(s) address with a host."""
    if len(url) > _MAX_URL or not url[:8].lower().startswith(("http://", "https://")):
        return False
    try:
        parts = urlsplit(url)
        return bool(parts.hostname)
    except ValueError:
        return False
