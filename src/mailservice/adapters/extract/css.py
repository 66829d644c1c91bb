"""Just enough CSS to tell whether text in a mail is shown: declarations, simple rules, colors, sizes.

Style sheets are read for rules whose selectors are a tag, a class, `tag.class` or an id; rules
inside at-rules (`@media`, `@supports`, ...) only apply to some screens and are ignored. The
cascade is approximated by specificity (tag, class, id, inline) and `!important`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

Declarations = dict[str, tuple[str, bool]]
"""property -> (lowercase value without "!important", important)"""

Color = tuple[int, int, int, float]

_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_IMPORTANT = re.compile(r"\s*!\s*important\s*$")
_SIMPLE_SELECTOR = re.compile(r"^(?:([a-z][a-z0-9]*)?(\.[\w-]+)|([a-z][a-z0-9]*)|(#[\w-]+))$")
_ZERO = re.compile(r"^-?0*\.?0+(?:px|pt|em|rem|%|ex|ch|vh|vw|cm|mm|in)?$")
_LENGTH = re.compile(r"^(-?\d*\.?\d+)(px|pt|em|rem|%|)$")
_FONT_SHORTHAND_SIZE = re.compile(r"(?:^|\s)(\d*\.?\d+)(px|pt|em|rem|%)(?=[\s/]|$)|(?:^|\s)0(?=\s*/|\s|$)")
_RGB = re.compile(r"^rgba?\(\s*([^)]*)\)$")
_HEX = re.compile(r"^#([0-9a-f]{3,8})$")
_URL = re.compile(r"url\(")
_NAMED_COLORS: dict[str, Color] = {
    "white": (255, 255, 255, 1.0),
    "snow": (255, 250, 250, 1.0),
    "ivory": (255, 255, 240, 1.0),
    "whitesmoke": (245, 245, 245, 1.0),
    "black": (0, 0, 0, 1.0),
    "red": (255, 0, 0, 1.0),
    "green": (0, 128, 0, 1.0),
    "blue": (0, 0, 255, 1.0),
    "yellow": (255, 255, 0, 1.0),
    "gray": (128, 128, 128, 1.0),
    "grey": (128, 128, 128, 1.0),
    "silver": (192, 192, 192, 1.0),
    "navy": (0, 0, 128, 1.0),
    "orange": (255, 165, 0, 1.0),
    "purple": (128, 0, 128, 1.0),
    "transparent": (0, 0, 0, 0.0),
}
_KEYWORD_SIZES = {
    "xx-small": 9.0,
    "x-small": 10.0,
    "small": 13.0,
    "medium": 16.0,
    "large": 18.0,
    "x-large": 24.0,
    "xx-large": 32.0,
    "xxx-large": 48.0,
}
_FONT_TAG_SIZES = (10.0, 10.0, 13.0, 16.0, 18.0, 24.0, 32.0, 48.0)
_OFFSCREEN_PX = -500.0
_MAX_CSS = 200_000


def parse_declarations(style: str) -> Declarations:
    """An inline `style` attribute or a rule body; later declarations win unless one is important."""
    found: Declarations = {}
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        value = value.strip().lower()
        important = bool(_IMPORTANT.search(value))
        if important:
            value = _IMPORTANT.sub("", value)
        if not name or (name in found and found[name][1] and not important):
            continue
        found[name] = (value, important)
    return found


class StyleSheet:
    """The simple rules of a mail's `<style>` blocks, keyed by "tag", ".class", "tag.class" or "#id"."""

    def __init__(self) -> None:
        self.rules: dict[str, Declarations] = {}

    def add(self, css: str) -> None:
        css = _COMMENT.sub("", css[:_MAX_CSS])
        for selectors, body in _top_level_rules(css):
            declarations = parse_declarations(body)
            for selector in selectors.split(","):
                key = selector.strip().lower()
                if key and _SIMPLE_SELECTOR.match(key):
                    self.rules[key] = merge(self.rules.get(key, {}), declarations)

    def declarations(self, tag: str, classes: Iterable[str], element_id: str | None) -> Declarations:
        if not self.rules:
            return {}
        merged: Declarations = dict(self.rules.get(tag, {}))
        class_list = [name.lower() for name in classes]
        for name in class_list:
            merged = merge(merged, self.rules.get("." + name, {}))
        for name in class_list:
            merged = merge(merged, self.rules.get(f"{tag}.{name}", {}))
        if element_id:
            merged = merge(merged, self.rules.get("#" + element_id.lower(), {}))
        return merged


def merge(base: Mapping[str, tuple[str, bool]], override: Mapping[str, tuple[str, bool]]) -> Declarations:
    """`override` on top of `base`, except where only `base` is important."""
    merged = dict(base)
    for name, (value, important) in override.items():
        if name in merged and merged[name][1] and not important:
            continue
        merged[name] = (value, important)
    return merged


def _top_level_rules(css: str) -> list[tuple[str, str]]:
    """(selectors, body) of each rule outside at-rules; at-rule blocks are skipped whole."""
    rules: list[tuple[str, str]] = []
    position = 0
    while position < len(css):
        opening = css.find("{", position)
        if opening < 0:
            break
        prelude = css[position:opening]
        at_statement = prelude.rfind("@")
        if at_statement >= 0 and ";" in prelude[at_statement:]:
            prelude = prelude[prelude.rfind(";") + 1 :]
        closing = _block_end(css, opening)
        if "@" not in prelude:
            rules.append((prelude.strip(), css[opening + 1 : closing]))
        position = closing + 1
    return rules


def _block_end(css: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(css)):
        char = css[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return len(css)


def hides(declarations: Mapping[str, tuple[str, bool]]) -> bool:
    """Whether these declarations make an element and everything in it invisible."""

    def value(name: str) -> str:
        found = declarations.get(name)
        return "" if found is None else found[0]

    if value("display").startswith("none") or value("visibility") in ("hidden", "collapse"):
        return True
    if value("mso-hide") == "all" or _transparent(value("opacity")):
        return True
    if value("overflow") in ("hidden", "clip") or value("overflow-y") in ("hidden", "clip"):
        if any(_is_zero(value(name)) or _tiny(value(name)) for name in ("height", "max-height")):
            return True
        if any(_is_zero(value(name)) for name in ("width", "max-width")):
            return True
    if _collapsed_clip(value("clip"), value("clip-path")) or "scale(0)" in value("transform"):
        return True
    if value("position") in ("absolute", "fixed") and any(
        _offscreen(value(name)) for name in ("left", "top", "right", "margin-left", "margin-top")
    ):
        return True
    return _offscreen(value("text-indent"))


def _is_zero(value: str) -> bool:
    return bool(value) and _ZERO.match(value) is not None


def _tiny(value: str) -> bool:
    length = _LENGTH.match(value)
    return length is not None and length.group(2) in ("px", "") and abs(float(length.group(1))) <= 1.0


def _transparent(opacity: str) -> bool:
    if not opacity:
        return False
    try:
        number = float(opacity.rstrip("%")) / (100.0 if opacity.endswith("%") else 1.0)
    except ValueError:
        return False
    return number <= 0.05


def _collapsed_clip(clip: str, clip_path: str) -> bool:
    if clip.startswith("rect("):
        numbers = [float(number) for number in re.findall(r"-?\d*\.?\d+", clip)]
        if len(numbers) == 4 and (numbers[0] >= numbers[2] or numbers[1] <= numbers[3]):
            return True
    return clip_path.startswith(("inset(50%", "inset(100%", "circle(0", "polygon(0 0)"))


def _offscreen(value: str) -> bool:
    length = _LENGTH.match(value)
    return (
        length is not None
        and length.group(2) in ("px", "em", "rem", "pt")
        and (float(length.group(1)) * (16.0 if length.group(2) in ("em", "rem") else 1.0) <= _OFFSCREEN_PX)
    )


def font_size(declarations: Mapping[str, tuple[str, bool]], parent_px: float) -> float:
    """The element's font size in pixels, given its parent's."""
    size = declarations.get("font-size")
    if size is not None:
        return _size_px(size[0], parent_px)
    shorthand = declarations.get("font")
    if shorthand is not None:
        match = _FONT_SHORTHAND_SIZE.search(shorthand[0])
        if match is not None:
            return _size_px(match.group(0).strip(), parent_px)
    return parent_px


def font_tag_size(size: str, parent_px: float) -> float:
    """The size of `<font size=...>`: 1-7, or relative as +1 / -2."""
    size = size.strip()
    try:
        number = int(size)
    except ValueError:
        return parent_px
    if size.startswith(("+", "-")):
        number += 3
    return _FONT_TAG_SIZES[max(1, min(7, number))]


def _size_px(value: str, parent_px: float) -> float:
    if value in _KEYWORD_SIZES:
        return _KEYWORD_SIZES[value]
    if value == "smaller":
        return parent_px * 0.83
    if value == "larger":
        return parent_px * 1.2
    length = _LENGTH.match(value)
    if length is None:
        return parent_px
    number, unit = float(length.group(1)), length.group(2)
    if unit in ("px", ""):
        return number
    if unit == "pt":
        return number * 4.0 / 3.0
    if unit == "em":
        return number * parent_px
    if unit == "rem":
        return number * 16.0
    return number * parent_px / 100.0


def parse_color(value: str) -> Color | None:
    value = value.strip().lower()
    if value in _NAMED_COLORS:
        return _NAMED_COLORS[value]
    hex_match = _HEX.match(value)
    if hex_match is not None:
        return _hex_color(hex_match.group(1))
    rgb = _RGB.match(value)
    if rgb is not None:
        return _rgb_color(rgb.group(1))
    return None


def _hex_color(digits: str) -> Color | None:
    if len(digits) in (3, 4):
        digits = "".join(char * 2 for char in digits)
    if len(digits) not in (6, 8):
        return None
    alpha = int(digits[6:8], 16) / 255.0 if len(digits) == 8 else 1.0
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), alpha


def _rgb_color(arguments: str) -> Color | None:
    parts = [part for part in re.split(r"[\s,/]+", arguments.strip()) if part]
    if len(parts) not in (3, 4):
        return None
    try:
        channels = [
            round(float(part[:-1]) * 2.55) if part.endswith("%") else round(float(part)) for part in parts[:3]
        ]
        alpha = 1.0
        if len(parts) == 4:
            alpha = float(parts[3][:-1]) / 100.0 if parts[3].endswith("%") else float(parts[3])
    except ValueError:
        return None
    red, green, blue = (max(0, min(255, channel)) for channel in channels)
    return red, green, blue, max(0.0, min(1.0, alpha))


def background(declarations: Mapping[str, tuple[str, bool]]) -> tuple[Color | None, bool]:
    """(background color, whether a background is declared at all, an image say)."""
    for name in ("background-color", "background"):
        found = declarations.get(name)
        if found is None:
            continue
        for token in _tokens(found[0]):
            color = parse_color(token)
            if color is not None and color[3] > 0.5:
                return color, True
        if name == "background-color" or _URL.search(found[0]):
            return None, True
    if "background-image" in declarations:
        return None, True
    return None, False


def _tokens(value: str) -> list[str]:
    tokens: list[str] = []
    depth, current = 0, list[str]()
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char.isspace() and depth == 0:
            if current:
                tokens.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def text_color(declarations: Mapping[str, tuple[str, bool]]) -> Color | None:
    fill = declarations.get("-webkit-text-fill-color")
    if fill is not None and parse_color(fill[0]) is not None:
        return parse_color(fill[0])
    color = declarations.get("color")
    return None if color is None else parse_color(color[0])


def indistinct(text: Color, behind: Color) -> bool:
    """Text of this color cannot be read on this background (or is transparent)."""
    if text[3] <= 0.1:
        return True
    return max(abs(text[index] - behind[index]) for index in range(3)) <= 12
