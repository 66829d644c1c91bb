"""The texts searched for codes: the subject, the plain text and the visible text of the HTML.

Each is cleaned of invisible characters. The HTML text puts every block and table cell on its own
line and remembers which characters were emphasised (bold, headings, large, spaced or monospace).
Addresses and e-mail addresses are blanked out in `scanned`, so that numbers inside them are not
candidates, while positions stay those of `text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .html_events import Break, Text, visible_events
from .invisible import strip_invisible
from .urls import find_urls

MAX_SOURCE_CHARS = 300_000
_EMAIL_DOMAIN = re.compile(r"@[\w-]+(?:\.[\w-]+)+")
_LOCAL_PART = re.compile(r"[\w.+-]")
_WWW = re.compile(r"\bwww\.[^\s<>\"']+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_QUOTED_LINES = re.compile(r"^[ \t]*>.*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # "subject", "text" or "html"
    rank: int
    text: str
    scanned: str
    emphasis: bytes | None = None  # one byte per character of `text`: 1 when emphasised
    quoted: tuple[tuple[int, int], ...] = ()  # (start, end) of quoted history in `text`

    def in_quoted_history(self, position: int) -> bool:
        return any(start <= position < end for start, end in self.quoted)

    def emphasised(self, start: int, end: int) -> bool:
        if self.emphasis is None:
            return False
        marks = [self.emphasis[index] for index in range(start, end) if not self.text[index].isspace()]
        return bool(marks) and all(marks)


def subject_source(subject: str) -> Source:
    text = _WHITESPACE.sub(" ", strip_invisible(subject[:MAX_SOURCE_CHARS]))
    return Source("subject", 0, text, _blank_addresses(text))


def text_source(text: str) -> Source:
    text = strip_invisible(text[:MAX_SOURCE_CHARS])
    quoted = tuple(match.span() for match in _QUOTED_LINES.finditer(text)) if ">" in text else ()
    return Source("text", 1, text, _blank_addresses(text), quoted=quoted)


def html_source(html: str) -> Source:
    pieces: list[str] = []
    marks = bytearray()
    quoted: list[tuple[int, int]] = []
    length = 0
    for event in visible_events(html):
        if isinstance(event, Text):
            piece = event.text if event.preformatted else _WHITESPACE.sub(" ", event.text)
            marks.extend((b"\x01" if event.emphasis else b"\x00") * len(piece))
            if event.quoted:
                quoted.append((length, length + len(piece)))
        elif isinstance(event, Break):
            piece = "\n"
            marks.extend(b"\x00")
        else:
            continue
        pieces.append(piece)
        length += len(piece)
        if length > MAX_SOURCE_CHARS:
            break
    text = "".join(pieces)
    return Source("html", 2, text, _blank_addresses(text), bytes(marks), tuple(quoted))


def _blank_addresses(text: str) -> str:
    spans = [(span.start, span.end) for span in find_urls(text)]
    if "www." in text.lower():
        spans += [(match.start(), match.end()) for match in _WWW.finditer(text)]
    spans += _email_addresses(text)
    if not spans:
        return text
    characters = list(text)
    for start, end in spans:
        characters[start:end] = " " * (end - start)
    return "".join(characters)


def _email_addresses(text: str) -> list[tuple[int, int]]:
    """Spans of `local@domain.tld`, found from the domain so that long words cost nothing."""
    spans: list[tuple[int, int]] = []
    for match in _EMAIL_DOMAIN.finditer(text):
        start = match.start()
        while start > 0 and match.start() - start < 64 and _LOCAL_PART.match(text[start - 1]):
            start -= 1
        if start < match.start():
            spans.append((start, match.end()))
    return spans
