"""The visible content of an HTML mail as a flat list of events: text, breaks, links and images.

What a reader of the rendered mail would not see is left out: scripts, styles, the head, comments,
templates, SVG, elements hidden by attribute (`hidden`, `aria-hidden="true"`) or by CSS (inline or
from simple `<style>` rules: display, visibility, opacity, zero-size boxes with hidden overflow,
off-screen positions), text smaller than 3px or coloured like its background, closed `<details>`,
quoted replies (`<blockquote type="cite">`, Gmail's quote blocks) and tracking pixels.

The element stack follows the browser's main recovery rules, so that unclosed, misnested or stray
tags neither crash the walk nor hide the rest of the page: void elements are never opened, `<p>`,
`<li>`, table cells and rows close implicitly, end tags do not reach across table boundaries, body
content closes an unclosed `<head>` or `<title>`, and HTML content breaks out of unclosed SVG.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from html.parser import HTMLParser

from . import css
from .invisible import strip_invisible
from .urls import clean_href

MAX_HTML_CHARS = 1_000_000


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    emphasis: bool = False
    preformatted: bool = False
    quoted: bool = False  # inside quoted history: a <blockquote> or a mail client's quote container


@dataclass(frozen=True, slots=True)
class Break:
    kind: str  # "line", "paragraph", "item" (a list item starts) or "cell" (a table cell starts)


@dataclass(frozen=True, slots=True)
class LinkStart:
    href: str


@dataclass(frozen=True, slots=True)
class LinkEnd:
    pass


@dataclass(frozen=True, slots=True)
class Image:
    alt: str
    src: str


Event = Text | Break | LinkStart | LinkEnd | Image

_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
    | {"basefont", "bgsound", "frame", "keygen", "image"}
)
_DROPPED = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "svg", "math", "iframe", "noembed"}
    | {"noframes", "object", "select", "datalist", "canvas", "audio", "video", "map"}
)
_FOREIGN = frozenset({"svg", "math"})
_HEAD_CONTENT = frozenset(
    {"title", "style", "meta", "link", "script", "base", "noscript", "template", "head"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPHS = (
    frozenset({"p", "blockquote", "ul", "ol", "dl", "table", "pre", "figure", "hr", "listing"}) | _HEADINGS
)
_LINES = frozenset(
    {"div", "section", "article", "header", "footer", "nav", "aside", "main", "tr", "tbody", "thead"}
    | {"tfoot", "dt", "dd", "form", "fieldset", "legend", "caption", "center", "details", "summary"}
    | {"address", "figcaption", "hgroup", "menu", "dir", "option", "textarea", "dialog", "li"}
)
_CELLS = frozenset({"td", "th"})
_CLOSES_P = (_PARAGRAPHS | _LINES | {"xmp", "plaintext"}) - {"tr", "tbody", "thead", "tfoot", "caption"}
_SCOPE = frozenset({"table", "td", "th", "caption", "template", "html", "applet", "object", "marquee"})
_TABLE_SCOPE = frozenset({"table", "template", "html"})
_END_SCOPES: dict[str, frozenset[str]] = {
    "td": _TABLE_SCOPE,
    "th": _TABLE_SCOPE,
    "tr": _TABLE_SCOPE,
    "tbody": _TABLE_SCOPE,
    "thead": _TABLE_SCOPE,
    "tfoot": _TABLE_SCOPE,
    "caption": _TABLE_SCOPE,
    "table": frozenset({"template", "html"}),
    "li": _SCOPE | {"ul", "ol"},
    "dt": _SCOPE | {"dl"},
    "dd": _SCOPE | {"dl"},
    "p": _SCOPE | {"button"},
}
_BREAKOUT = frozenset(
    {"b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed"}
    | {"head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s"}
    | {"small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var", "font"}
    | _HEADINGS
)
_EMPHASIS = frozenset({"b", "strong", "big", "code", "kbd", "samp", "tt", "mark"}) | _HEADINGS
_PREFORMATTED = frozenset({"pre", "textarea", "listing", "plaintext", "xmp"})
_MONOSPACE = re.compile(r"mono|courier|consolas|menlo")
_BOLD = frozenset({"bold", "bolder", "600", "700", "800", "900"})
_LARGE_PX = 18.0
_MIN_FONT_PX = 3.0
_WHITE: css.Color = (255, 255, 255, 1.0)
_PIXEL_SIZE = re.compile(r"^\s*[01](?:\.0*)?\s*(?:px)?\s*$")
_MARKED_SECTION = re.compile(r"<!\[(?!(?:if|else|endif|cdata|temp|ignore|include|rcdata)\b)", re.IGNORECASE)
_EMPTY_COMMENT = re.compile(r"<!---?>")
_QUOTE_CLASSES = frozenset({"gmail_quote", "yahoo_quoted", "protonmail_quote"})
_SEARCH_DEPTH = 512  # how far down the stack recovery looks for an open element


@dataclass(slots=True)
class _Open:
    tag: str
    hidden: bool = False
    font_px: float = 16.0
    color: css.Color | None = None
    background: css.Color | None = None
    background_declared: bool = False
    unsure: bool = False  # classes or ids in the chain: rules this module cannot apply may style it
    inside_link: bool = False
    emphasis: bool = False
    preformatted: bool = False
    link: bool = False
    closed_details: bool = False
    quoted: bool = False


@lru_cache(maxsize=8)
def visible_events(html: str) -> tuple[Event, ...]:
    """The events of `html`; the last few answers are kept, as one message is often asked for all views."""
    source = _prepare(html[:MAX_HTML_CHARS])
    walker = _Walker(_style_sheet(source))
    try:
        walker.feed(source)
        walker.close()
    except (AssertionError, ValueError, IndexError):  # html.parser's internal checks; keep what was read
        pass
    walker.finish()
    return tuple(walker.events)


def _prepare(html: str) -> str:
    """Input html.parser would misread: unknown `<![` sections raise; an unclosed comment would show."""
    html = _EMPTY_COMMENT.sub("<!---->", _MARKED_SECTION.sub("&lt;![", html))
    last_close = html.rfind("-->")
    unclosed = html.find("<!--", last_close + 3 if last_close >= 0 else 0)
    return html if unclosed < 0 else html[:unclosed]


def _style_sheet(html: str) -> css.StyleSheet:
    sheet = css.StyleSheet()
    lowered = html.lower()
    position = 0
    while True:
        start = lowered.find("<style", position)
        if start < 0:
            break
        body = lowered.find(">", start)
        end = lowered.find("</style", body) if body >= 0 else -1
        if end < 0:
            break
        sheet.add(html[body + 1 : end])
        position = end + 7
    return sheet


class _Walker(HTMLParser):
    def __init__(self, sheet: css.StyleSheet) -> None:
        super().__init__(convert_charrefs=True)
        self.sheet = sheet
        self.stack: list[_Open] = [_Open("#root")]
        self.open_tags: Counter[str] = Counter()
        self.events: list[Event] = []

    # html.parser callbacks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, dict(attrs), self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Browsers ignore "/>" on HTML elements, but not on SVG and MathML ones.
        foreign = tag in _FOREIGN or any(self.open_tags[name] for name in _FOREIGN)
        self._start(tag, dict(attrs), self_closing=foreign)

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":
            self._void(tag, {})
            return
        if tag in ("html", "body"):
            return
        index = self._find(tag, _END_SCOPES.get(tag, _SCOPE))
        if index is None:
            if tag == "p" and not self.stack[-1].hidden:
                self.events.append(Break("paragraph"))
            return
        self._pop_to(index)

    def handle_data(self, data: str) -> None:
        top = self.stack[-1]
        if top.hidden or top.closed_details or not self._readable(top):
            return
        text = strip_invisible(data)
        if text:
            self.events.append(Text(text, top.emphasis, top.preformatted, top.quoted))

    def finish(self) -> None:
        self._pop_to(1)

    # the element stack

    def _start(self, tag: str, attrs: dict[str, str | None], self_closing: bool) -> None:
        self._implicit_closes(tag)
        if tag in ("html", "body"):
            root = self.stack[0]
            styled = self._entry(tag, attrs, root)
            self.stack[0] = replace(styled, tag="#root", hidden=False, link=False, closed_details=False)
            return
        if tag in _VOID:
            self._void(tag, attrs)
            return
        parent = self.stack[-1]
        entry = self._entry(tag, attrs, parent)
        if not entry.hidden:
            self._block_start(tag)
            href = attrs.get("href")
            if tag == "a" and href is not None:
                entry.link = entry.inside_link = True
                self.events.append(LinkStart(clean_href(href)))
        self.stack.append(entry)
        self.open_tags[tag] += 1
        if self_closing:
            self._pop_to(len(self.stack) - 1)

    def _implicit_closes(self, tag: str) -> None:
        if tag not in _HEAD_CONTENT:
            for name in ("title", "head"):
                index = self._find(name, frozenset())
                if index is not None:
                    self._pop_to(index)
        if tag in _BREAKOUT and any(self.open_tags[name] for name in _FOREIGN):
            foreign = next(index for index, entry in enumerate(self.stack) if entry.tag in _FOREIGN)
            self._pop_to(foreign)
        if tag in _CLOSES_P:
            self._close("p", _SCOPE | {"button"})
        if tag == "li":
            self._close("li", _SCOPE | {"ul", "ol"})
        elif tag in ("dt", "dd"):
            self._close("dt", _SCOPE | {"dl"})
            self._close("dd", _SCOPE | {"dl"})
        elif tag in _CELLS:
            self._close("td", _TABLE_SCOPE | {"tr"})
            self._close("th", _TABLE_SCOPE | {"tr"})
        elif tag == "tr":
            self._close("tr", _TABLE_SCOPE | {"tbody", "thead", "tfoot"})
        elif tag in ("tbody", "thead", "tfoot"):
            for name in ("tbody", "thead", "tfoot"):
                self._close(name, _TABLE_SCOPE)
        elif tag in ("a", "button", "option", "nobr"):
            self._close(tag, _SCOPE)
        if tag in _HEADINGS and self.stack[-1].tag in _HEADINGS:
            self._pop_to(len(self.stack) - 1)

    def _close(self, tag: str, scope: frozenset[str]) -> None:
        index = self._find(tag, scope)
        if index is not None:
            self._pop_to(index)

    def _find(self, tag: str, scope: frozenset[str]) -> int | None:
        """Index of the innermost open `tag` that is not behind a `scope` element; never the root."""
        if not self.open_tags[tag]:
            return None
        for index in range(len(self.stack) - 1, max(0, len(self.stack) - 1 - _SEARCH_DEPTH), -1):
            name = self.stack[index].tag
            if name == tag:
                return index
            if name in scope:
                return None
        return None

    def _pop_to(self, index: int) -> None:
        while len(self.stack) > max(index, 1):
            entry = self.stack.pop()
            self.open_tags[entry.tag] -= 1
            if entry.link:
                self.events.append(LinkEnd())
            if not entry.hidden:
                self._block_end(entry.tag)

    def _block_start(self, tag: str) -> None:
        if tag in _PARAGRAPHS:
            self.events.append(Break("paragraph"))
        elif tag == "li":
            self.events.append(Break("item"))
        elif tag in _LINES:
            self.events.append(Break("line"))
        elif tag in _CELLS:
            self.events.append(Break("cell"))

    def _block_end(self, tag: str) -> None:
        if tag in _PARAGRAPHS:
            self.events.append(Break("paragraph"))
        elif tag in _LINES:
            self.events.append(Break("line"))

    def _void(self, tag: str, attrs: dict[str, str | None]) -> None:
        parent = self.stack[-1]
        if parent.hidden or parent.closed_details:
            return
        if tag == "br":
            self.events.append(Break("line"))
        elif tag == "hr":
            self.events.append(Break("paragraph"))
        elif tag in ("img", "image"):
            entry = self._entry(tag, attrs, parent)
            if not entry.hidden and not _pixel(attrs, self._declarations(tag, attrs)):
                alt = strip_invisible(attrs.get("alt") or "").strip()
                self.events.append(Image(alt, clean_href(attrs.get("src") or "")))

    # styles

    def _declarations(self, tag: str, attrs: dict[str, str | None]) -> css.Declarations:
        if not attrs and not self.sheet.rules:
            return {}
        classes = (attrs.get("class") or "").split()
        declared = self.sheet.declarations(tag, classes, attrs.get("id"))
        style = attrs.get("style")
        return css.merge(declared, css.parse_declarations(style)) if style else declared

    def _entry(self, tag: str, attrs: dict[str, str | None], parent: _Open) -> _Open:
        if parent.hidden:
            return _Open(tag, hidden=True)
        entry = replace(
            parent,
            tag=tag,
            hidden=_hidden_by_markup(tag, attrs, parent),
            unsure=parent.unsure or bool(attrs.get("class") or attrs.get("id")),
            emphasis=parent.emphasis or tag in _EMPHASIS,
            preformatted=parent.preformatted or tag in _PREFORMATTED,
            link=False,
            closed_details=tag == "details" and "open" not in attrs,
            quoted=parent.quoted or _quotes_history(tag, attrs),
        )
        declarations = self._declarations(tag, attrs)
        if declarations:
            entry.hidden = entry.hidden or css.hides(declarations)
            entry.font_px = css.font_size(declarations, parent.font_px)
            entry.color = css.text_color(declarations) or parent.color
            entry.emphasis = entry.emphasis or _emphasised(declarations)
        if tag in ("font", "body"):
            entry.color = css.parse_color(attrs.get("color") or attrs.get("text") or "") or entry.color
            if attrs.get("size"):
                entry.font_px = css.font_tag_size(attrs.get("size") or "", parent.font_px)
        color, declared = css.background(declarations) if declarations else (None, False)
        if color is None and attrs.get("bgcolor"):
            color = css.parse_color(attrs.get("bgcolor") or "")
            declared = True
        if declared or attrs.get("background"):
            entry.background, entry.background_declared = color, True
        entry.emphasis = entry.emphasis or entry.font_px >= _LARGE_PX
        return entry

    def _readable(self, top: _Open) -> bool:
        if top.font_px < _MIN_FONT_PX:
            return False
        if top.color is None:
            return True
        if top.color[3] <= 0.1:
            return False
        if top.background is not None:
            return not css.indistinct(top.color, top.background)
        if top.background_declared or not css.indistinct(top.color, _WHITE):
            return True
        # Light text on no known background: hidden on white, unless it is a button's label whose
        # background comes from style rules this module does not apply.
        return top.unsure and top.inside_link


def _quotes_history(tag: str, attrs: dict[str, str | None]) -> bool:
    if tag == "blockquote":
        return True
    classes = (attrs.get("class") or "").split()
    return any(name in _QUOTE_CLASSES for name in classes)


def _hidden_by_markup(tag: str, attrs: dict[str, str | None], parent: _Open) -> bool:
    if tag in _DROPPED or "hidden" in attrs or (attrs.get("aria-hidden") or "").strip().lower() == "true":
        return True
    if parent.closed_details and tag != "summary":
        return True
    if tag == "input" and (attrs.get("type") or "").strip().lower() == "hidden":
        return True
    classes = (attrs.get("class") or "").lower().split()
    if tag == "blockquote" and ((attrs.get("type") or "").lower() == "cite" or "gmail_quote" in classes):
        return True
    return "yahoo_quoted" in classes


def _emphasised(declarations: css.Declarations) -> bool:
    weight = declarations.get("font-weight", ("", False))[0]
    spacing = declarations.get("letter-spacing", ("", False))[0]
    family = declarations.get("font-family", ("", False))[0]
    spaced = (
        bool(spacing) and spacing not in ("normal", "0", "0px", "inherit", "initial") and spacing[0] != "-"
    )
    return weight in _BOLD or spaced or _MONOSPACE.search(family) is not None


def _pixel(attrs: dict[str, str | None], declarations: css.Declarations) -> bool:
    """A tracking pixel: an image at most one pixel wide or high."""
    sizes = [attrs.get("width"), attrs.get("height")]
    sizes += [declarations.get(name, ("", False))[0] or None for name in ("width", "height")]
    return any(size is not None and _PIXEL_SIZE.match(size) is not None for size in sizes)
