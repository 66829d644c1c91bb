"""A view of a message that is safe to put in front of an AI agent: only what a person would see.

The HTML body is preferred (the plain part may hold text the sender hid from people); hidden HTML,
invisible characters and quoted history are removed, links are numbered `[n]` with their addresses
listed apart, and the text is capped at `max_chars` on a word boundary. The text is still written by
the sender: this removes hiding places, not instructions in plain sight.
"""

from __future__ import annotations

from dataclasses import dataclass

from .html_events import visible_events
from .invisible import strip_invisible
from .layout import html_layout, plain_layout, tidy
from .link_marks import LinkMarks
from .quoted import trim_quoted

_WORD_BOUNDARY_REACH = 200  # how far back a cut looks for a space before cutting inside a word


@dataclass(frozen=True)
class SafeView:
    text: str
    links: list[str]  # the address of link [n] is links[n - 1]
    truncated: bool


def safe_view(text: str | None, html: str | None, max_chars: int = 20000) -> SafeView:
    marks = LinkMarks()
    rendered = trim_quoted(_visible_html(html, marks))
    if not rendered and text:
        marks = LinkMarks()
        rendered = trim_quoted(plain_layout(text, marks))
    numbered, links = marks.number(tidy(rendered))
    kept, truncated = _cap(numbered, max(0, max_chars))
    return SafeView(kept, [url for url, end in links if end <= len(kept)], truncated)


def readable_text(text: str | None, html: str | None) -> str:
    """The whole text a person sees, quoted history included.

    This is the message's `text` (what is searched, waited on and read); the safe view is cut from the
    same rendering, so neither ever holds what the sender hid. Visible HTML is preferred (the plain
    part may hold what the sender hid from people) and laid out with each link's address after its
    text; without it the plain part is kept as written, less invisible characters.
    """
    marks = LinkMarks()
    rendered = _visible_html(html, marks)
    if rendered:
        return tidy(marks.written_out(rendered))
    return strip_invisible(text) if text else ""


def _visible_html(html: str | None, marks: LinkMarks) -> str:
    return html_layout(visible_events(html), marks) if html and html.strip() else ""


def _cap(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    cut = limit
    space = max(text.rfind(" ", 0, limit + 1), text.rfind("\n", 0, limit + 1))
    if space >= max(1, limit - _WORD_BOUNDARY_REACH):
        cut = space
    return text[:cut].rstrip(), True
