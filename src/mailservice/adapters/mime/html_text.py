"""HTML to plain text, good enough to read a mail (and to find the links in it).

Scripts, styles, the head and comments are dropped; paragraphs, headings, lists, rows and other
blocks start new lines; list items get "- "; whitespace is collapsed except inside <pre>; entities
are decoded; a link keeps its text, followed by its address in parentheses when that differs.
"""

from __future__ import annotations

import html
import re

_FLAGS = re.IGNORECASE | re.DOTALL
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_DROPPED_NAMES = ("script", "style", "head", "title", "noscript", "template", "svg")
_DROPPED = re.compile(r"<(" + "|".join(_DROPPED_NAMES) + r")\b[^>]*>.*?(?:</\1\s*>|\Z)", _FLAGS)
_DECLARATION = re.compile(r"<[!?][^>]*>")
_PRE = re.compile(r"(<pre\b[^>]*>)(.*?)(</pre\s*>|\Z)", _FLAGS)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b([^>]*)>")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_NEWLINE, _HARD_SPACE = "\x01", "\x02"
_PARAGRAPH = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "pre", "hr", "dl")
_BLOCK = (
    *("br", "div", "tr", "thead", "tbody", "tfoot", "dt", "dd", "section", "article", "header", "footer"),
    *("nav", "aside", "form", "fieldset", "address", "figure", "figcaption", "main", "center", "caption"),
)
_REPLACEMENTS = {name: _NEWLINE * 2 for name in _PARAGRAPH} | {name: _NEWLINE for name in _BLOCK}
_REPLACEMENTS |= {"td": " ", "th": " "}


def html_to_text(source: str) -> str:
    lowered = source.lower()
    text = _COMMENT.sub("", source) if "<!--" in source else source
    if any(f"<{name}" in lowered for name in _DROPPED_NAMES):
        text = _DROPPED.sub("", text)
    text = _DECLARATION.sub("", text)
    if "<pre" in lowered:
        text = _PRE.sub(_keep_pre, text)
    return _tidy(html.unescape(_replace_tags(" ".join(text.split()))))


def _keep_pre(match: re.Match[str]) -> str:
    inner = match.group(2).replace("\r\n", "\n").replace("\n", _NEWLINE)
    inner = inner.replace(" ", _HARD_SPACE).replace("\t", _HARD_SPACE * 4)
    return match.group(1) + inner + match.group(3)


def _replace_tags(text: str) -> str:
    """Tags become line breaks, "- " or nothing; a link's address follows its text."""
    pieces = _TAG.split(text)
    links: list[tuple[int, str | None]] = []
    for index in range(1, len(pieces), 4):
        closing, name, attributes = pieces[index], pieces[index + 1].lower(), pieces[index + 2]
        pieces[index] = pieces[index + 1] = pieces[index + 2] = ""
        if name == "a":
            pieces[index] = _link(pieces, links, index, closing, attributes)
        elif name == "li":
            pieces[index] = "" if closing else _NEWLINE + "- "
        else:
            pieces[index] = _REPLACEMENTS.get(name, "")
    return "".join(pieces)


def _link(
    pieces: list[str], links: list[tuple[int, str | None]], index: int, closing: str, attributes: str
) -> str:
    """Remember where a link starts; at its end, its address when that is not already its text."""
    if not closing:
        href = _HREF.search(attributes)
        links.append(
            (index, None if href is None else next(group for group in href.groups() if group is not None))
        )
        return ""
    if not links:
        return ""
    start, target = links.pop()
    if target is None:
        return ""
    target = html.unescape(target).strip()
    shown = html.unescape("".join(pieces[start:index])).strip()
    if target and not target.startswith("#") and target not in (shown, "mailto:" + shown):
        return f" ({target})"
    return ""


def _tidy(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\t", " ").replace("\n", _NEWLINE)
    while "  " in text:
        text = text.replace("  ", " ")
    text = text.replace(" " + _NEWLINE, _NEWLINE).replace(_NEWLINE + " ", _NEWLINE).replace(_NEWLINE, "\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip("\n ").replace(_HARD_SPACE, " ")
