"""Readable text laid out from visible HTML events or from plain text, with link placeholders.

Blocks become line breaks, paragraphs a blank line, list items "- ", table cells are separated by
" | ". Whitespace is collapsed (`<pre>` keeps its line breaks), at most one blank line in a row. A link's
text is followed by its marker; an address written out as text becomes a marker itself, and a link
whose text is its own address shows only one marker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .html_events import Break, Event, Image, LinkEnd, LinkStart, Text
from .invisible import strip_invisible
from .link_marks import LinkMarks, without_placeholder_characters
from .urls import find_urls, is_web_url

_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Spaces collapsed and trimmed on every line; at most one blank line in a row."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def plain_layout(text: str, marks: LinkMarks) -> str:
    text = without_placeholder_characters(strip_invisible(text))
    pieces: list[str] = []
    position = 0
    for span in find_urls(text):
        before = text[position : span.start]
        if span.wrapped == "()" and before[-1:].isspace():
            before = before.rstrip() + " "
        pieces += [before, marks.placeholder(span.url)]
        position = span.end
    pieces.append(text[position:])
    return tidy("".join(pieces))


class _Writer:
    def __init__(self, marks: LinkMarks) -> None:
        self.marks = marks
        self.out: list[str] = []
        self.pending_break = 0
        self.pending_space = False
        self.pending_item = False
        self.pending_cell = False
        self.line_has_content = False
        self.quoted = False  # the text being written is quoted history: its lines start with "> "

    def newline(self, level: int) -> None:
        self.pending_break = max(self.pending_break, level)
        self.pending_space = self.pending_cell = False

    def cell(self) -> None:
        if self.line_has_content and not self.pending_break:
            self.pending_cell = True

    def item(self) -> None:
        self.newline(1)
        self.pending_item = True

    def write(self, piece: str) -> None:
        if self.pending_break and self.out:
            self.out.append("\n" * self.pending_break)
            self.line_has_content = False
        self.pending_break = 0
        if self.quoted and not self.line_has_content:
            self.out.append("> ")
        if self.pending_item:
            self.out.append("- ")
            self.pending_item = self.pending_space = False
        if self.pending_cell and self.line_has_content:
            self.out.append(" | ")
        elif self.pending_space and self.line_has_content:
            self.out.append(" ")
        self.pending_cell = self.pending_space = False
        self.out.append(piece)
        self.line_has_content = True

    def text(self, text: str) -> None:
        position = 0
        for span in find_urls(text):
            self.words(text[position : span.start])
            self.write(self.marks.placeholder(span.url))
            position = span.end
        self.words(text[position:])

    def words(self, text: str) -> None:
        if not text:
            return
        if text[0].isspace():
            self.pending_space = True
        words = text.split()
        if words:
            self.write(" ".join(words))
            self.pending_space = text[-1].isspace()

    def preformatted(self, text: str) -> None:
        for index, line in enumerate(text.split("\n")):
            if index:
                self.newline(1)
            if line.strip():
                self.write(line.rstrip())

    def since(self, start: int) -> str:
        return "".join(self.out[start:]).strip()


def html_layout(events: Sequence[Event], marks: LinkMarks) -> str:
    writer = _Writer(marks)
    links: list[tuple[str, int, str]] = []  # (href, where its text starts, image alt)
    for event in events:
        if isinstance(event, Text):
            writer.quoted = event.quoted
            text = without_placeholder_characters(event.text)
            if event.preformatted:
                writer.preformatted(text)
            else:
                writer.text(text)
        elif isinstance(event, Break):
            if event.kind == "cell":
                writer.cell()
            elif event.kind == "item":
                writer.item()
            else:
                writer.newline(2 if event.kind == "paragraph" else 1)
        elif isinstance(event, LinkStart):
            links.append((event.href, len(writer.out), ""))
        elif isinstance(event, Image):
            if links and event.alt and not links[-1][2]:
                links[-1] = (links[-1][0], links[-1][1], event.alt)
        elif isinstance(event, LinkEnd) and links:
            _end_link(writer, *links.pop())
    return tidy("".join(writer.out))


def _end_link(writer: _Writer, href: str, start: int, alt: str) -> None:
    if not is_web_url(href):
        return
    shown = writer.since(start)
    if not shown:
        if not alt:
            return
        writer.words(" " + alt)
    marker = writer.marks.placeholder(href)
    if shown == marker:
        return
    writer.pending_space = True
    writer.write(marker)
