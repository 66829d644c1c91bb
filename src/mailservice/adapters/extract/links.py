"""The web links of a message, each with its text and what it is for.

Links come from the visible anchors of the HTML (hidden anchors, tracking pixels and image-only
links are left out, unless an image link's address or alt text says it verifies, resets or signs
in) and from addresses written out in the HTML or the plain text. Each address is listed once,
with the most telling text it was shown with. Verify, magic-link and reset links come first in
the order they appear, then other links, then unsubscribe links.
"""

from __future__ import annotations

from dataclasses import dataclass

from .html_events import Break, Image, LinkEnd, LinkStart, Text, visible_events
from .invisible import strip_invisible
from .link_kinds import MAGIC_LINK, OTHER, RESET, UNSUBSCRIBE, VERIFY, classify, is_generic
from .urls import find_urls, is_web_url

_MAX_TEXT = 120
_MAX_TEXT_INPUT = 1_000_000
_LINE_REACH = 300
_MAX_LINKS = 500  # addresses looked at per message
_PRIORITY = {VERIFY: 0, MAGIC_LINK: 0, RESET: 0, OTHER: 1, UNSUBSCRIBE: 2}


@dataclass(frozen=True)
class Link:
    url: str
    text: str
    kind: str  # "verify", "reset", "magic-link", "unsubscribe" or "other"


@dataclass(slots=True)
class _Seen:
    url: str
    text: str
    informative: int  # 3 link text, 2 words around an address, 1 "click here", 0 nothing
    kind: str
    position: int


def extract_links(text: str, html: str | None = None) -> list[Link]:
    seen: dict[str, _Seen] = {}
    found = _from_html(html) if html else []
    found += _from_text(strip_invisible(text[:_MAX_TEXT_INPUT]))
    for position, (url, shown, informative, kind) in enumerate(found):
        _add(seen, _Seen(url, shown, informative, kind, position))
    ordered = sorted(seen.values(), key=lambda link: (_PRIORITY[link.kind], link.position))
    return [Link(link.url, link.text, link.kind) for link in ordered]


def _add(seen: dict[str, _Seen], link: _Seen) -> None:
    known = seen.get(link.url)
    if known is None:
        seen[link.url] = link
        return
    if link.informative > known.informative:
        known.text, known.informative = link.text, link.informative
    if _PRIORITY[known.kind] != 0 and (_PRIORITY[link.kind] == 0 or link.kind == UNSUBSCRIBE):
        known.kind = link.kind


Found = tuple[str, str, int, str]  # url, text, informative, kind


def _from_text(text: str) -> list[Found]:
    found: list[Found] = []
    for span in find_urls(text)[:_MAX_LINKS]:
        before, after = _line_around(text, span.start, span.end)
        shown = _around(before, after) or _tail(_previous_line(text, span.start - len(before)))
        kind = classify(span.url, shown, text[max(0, span.start - 400) : span.start], after)
        found.append((span.url, shown, 2 if shown else 0, kind))
    return found


def _previous_line(text: str, line_start: int) -> str:
    """The closest non-blank line above, if within a few lines and not itself an address."""
    end = line_start - 1
    for _ in range(3):
        if end <= 0:
            return ""
        start = max(text.rfind("\n", max(0, end - _LINE_REACH), end) + 1, end - _LINE_REACH, 0)
        line = text[start:end].strip()
        if line:
            return "" if find_urls(line) else line
        end = start - 1
    return ""


def _around(before: str, after: str) -> str:
    """The words on a line around an address, without wrapping punctuation."""
    before = " ".join(before.split()).rstrip(" :-\u2013—(<[")
    after = " ".join(after.split()).lstrip(" .,;:)>]")
    return _tail(before) if before else _head(after)


def _tail(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _MAX_TEXT:
        return text
    cut = text[-_MAX_TEXT:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < _MAX_TEXT // 2 else cut


def _head(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _MAX_TEXT:
        return text
    cut = text[:_MAX_TEXT]
    space = cut.rfind(" ")
    return cut[:space] if space > _MAX_TEXT // 2 else cut


class _Anchor:
    def __init__(self, href: str, start: int) -> None:
        self.href = href
        self.start = start
        self.end = start
        self.alt = ""
        self.images = 0


def _from_html(html: str) -> list[Found]:
    """Anchors and written-out addresses, in order, classified with the visible text around them."""
    linear: list[str] = []
    length = 0
    items: list[_Anchor | tuple[str, int, int]] = []  # anchors, and (address, start, end) of written ones
    open_anchors: list[_Anchor] = []
    for event in visible_events(html):
        if isinstance(event, Text):
            piece = event.text.replace("\n", " ")
            for span in find_urls(piece):
                if not open_anchors:
                    items.append((span.url, length + span.start, length + span.end))
            linear.append(piece)
            length += len(piece)
        elif isinstance(event, Break):
            linear.append(" | " if event.kind == "cell" else "\n")
            length += len(linear[-1])
        elif isinstance(event, LinkStart):
            anchor = _Anchor(event.href, length)
            open_anchors.append(anchor)
            items.append(anchor)
        elif isinstance(event, Image) and open_anchors:
            open_anchors[-1].images += 1
            open_anchors[-1].alt = open_anchors[-1].alt or event.alt
        elif isinstance(event, LinkEnd) and open_anchors:
            open_anchors.pop().end = length
    for anchor in open_anchors:
        anchor.end = length
    whole = "".join(linear)
    found: list[Found] = []
    for item in items[:_MAX_LINKS]:
        if isinstance(item, _Anchor):
            anchor_found = _anchor(item, whole)
            if anchor_found is not None:
                found.append(anchor_found)
        else:
            url, start, end = item
            before, after = _line_around(whole, start, end)
            shown = _around(before, after)
            found.append((url, shown, 2 if shown else 0, classify(url, shown, before, after)))
    return found


def _anchor(anchor: _Anchor, whole: str) -> Found | None:
    if not is_web_url(anchor.href):
        return None
    shown = " ".join(whole[anchor.start : anchor.end].replace("|", " ").split())
    after = _line_around(whole, anchor.start, anchor.end)[1]
    before = whole[max(0, anchor.start - 400) : anchor.start]
    if not shown and anchor.images:
        kind = classify(anchor.href, anchor.alt, before, after)
        if kind == OTHER:
            return None  # a logo or banner
        return anchor.href, _head(anchor.alt), 1 if anchor.alt else 0, kind
    kind = classify(anchor.href, shown, before, after)
    informative = 0 if not shown or shown.lower().startswith("http") else 1 if is_generic(shown) else 3
    return anchor.href, _head(shown), informative, kind


def _line_around(whole: str, start: int, end: int) -> tuple[str, str]:
    """The rest of the line before and after a span, at most `_LINE_REACH` characters each."""
    reach_start = max(0, start - _LINE_REACH)
    line_start = max(whole.rfind("\n", reach_start, start) + 1, reach_start)
    line_end = whole.find("\n", end, end + _LINE_REACH)
    return whole[line_start:start], whole[
        end : min(len(whole), end + _LINE_REACH) if line_end < 0 else line_end
    ]
