"""Characters a reader cannot see, removed before text is shown to an agent or searched for codes.

Zero-width and bidirectional controls, the BOM, soft hyphens, Unicode tag characters and
variation selectors (both used to smuggle hidden instructions), invisible fillers and every other
format or control character except newline and tab. Line and paragraph separators, form feeds
and CR become newlines; no-break and other special spaces become plain spaces.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE_RANGES = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_RANGES}]")
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_KEPT_CONTROLS = frozenset("\n\t")
_ASCII_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn"})
_ASCII_ODD_BYTES = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])


def strip_invisible(text: str) -> str:
    """`text` without invisible characters, with one kind of newline and of space."""
    if text.isascii():
        text = text.replace("\r\n", "\n")
        data = text.encode("ascii")
        if len(data.translate(None, _ASCII_ODD_BYTES)) == len(data):
            return text  # the usual case, found without a regular expression's per-character cost
        return _ASCII_CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))
    text = _LINE_BREAKS.sub("\n", text)
    text = _SPACES.sub(" ", _INVISIBLE.sub("", text))
    return "".join(char for char in text if char in _KEPT_CONTROLS or _visible(char))


def _visible(char: str) -> bool:
    """Letters, marks, numbers, punctuation, symbols, spaces and private-use glyphs (icon fonts)."""
    return unicodedata.category(char) not in _DROPPED_CATEGORIES
