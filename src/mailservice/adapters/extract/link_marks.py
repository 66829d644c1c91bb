"""Link markers in rendered text: a placeholder per address while rendering, `[n]` once final.

Rendering writes a private-use placeholder for each address, so that text can still be cut (quoted
history, length) before the links are numbered 1, 2, ... in the order they are first seen in what
is kept. Private-use placeholder characters are removed from the mail's own text beforehand.
"""

from __future__ import annotations

import re

_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_LITERAL = re.compile(f"[{_OPEN}{_CLOSE}]")


class LinkMarks:
    def __init__(self) -> None:
        self.urls: list[str] = []
        self._ids: dict[str, int] = {}

    def placeholder(self, url: str) -> str:
        found = self._ids.get(url)
        if found is None:
            found = self._ids[url] = len(self.urls)
            self.urls.append(url)
        return f"{_OPEN}{found}{_CLOSE}"

    def number(self, text: str) -> tuple[str, list[tuple[str, int]]]:
        """`text` with placeholders as `[n]`, and (address, end of its first `[n]`) in the order of n."""
        order: dict[int, int] = {}
        pieces: list[str] = []
        found: list[tuple[str, int]] = []
        length = position = 0
        for match in _PLACEHOLDER.finditer(text):
            identifier = int(match.group(1))
            if identifier not in order:
                order[identifier] = len(order) + 1
            marker = f"[{order[identifier]}]"
            before = text[position : match.start()]
            pieces += [before, marker]
            length += len(before) + len(marker)
            if order[identifier] > len(found):
                found.append((self.urls[identifier], length))
            position = match.end()
        pieces.append(text[position:])
        return "".join(pieces), found

    def written_out(self, text: str) -> str:
        """`text` with each placeholder replaced by its address."""
        return _PLACEHOLDER.sub(lambda match: self.urls[int(match.group(1))], text)


def without_placeholder_characters(text: str) -> str:
    return _LITERAL.sub("", text)
