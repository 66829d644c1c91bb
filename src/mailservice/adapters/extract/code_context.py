"""How the words around a number speak for or against it being a one-time code.

For: words naming a code ("code", "OTP", "Bestätigungscode", "código") or its purpose ("verify",
"one-time", "connexion"), the closer the better; "482913 is your code"; "enter 482913" / "use ...
to". Against: a label right before the number ("Order #", "Invoice no.", "Call us at", "zip code"),
and promotions ("promo code", "20% off").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from .code_words import (
    CODE_COMPOUND_PREFIXES,
    CODE_MODIFIERS_AFTER,
    CODE_MODIFIERS_BEFORE,
    CODE_NOUNS,
    FILLERS,
    IS_YOUR,
    LABELS,
    NOT_CODE_NOUNS,
    NUMBER_WORDS,
    PASSWORD_WORDS,
    PHONE_WORDS,
    PROMO_WORDS,
    QUALIFIERS,
    USE_WORDS,
)

_WORD = re.compile("[^\\W_]+(?:['\u2019\\-][^\\W_]+)*|[#°º]")
_BEFORE, _AFTER = 12, 10
_NOUN, _COMPOUND, _QUALIFIER, _PASSWORD = 2.5, 2.7, 1.3, 1.0
_AFTER_FACTOR = 0.8
_LABEL, _NUMBER_LABEL, _PROMO = -3.0, -2.0, -2.5


class WordIndex:
    """The words of a text, lowercased, to look up the ones just before and after a span."""

    def __init__(self, text: str) -> None:
        self.text = text
        matches = list(_WORD.finditer(text))
        self.words = [match.group(0).lower() for match in matches]
        self.starts = [match.start() for match in matches]
        self.ends = [match.end() for match in matches]

    def around(self, start: int, end: int) -> tuple[list[str], list[str]]:
        """Words before `start`, nearest first, and the words after `end` on the same line."""
        before = bisect_right(self.ends, start)
        after = bisect_left(self.starts, end)
        line_end = self.text.find("\n", end)
        last = len(self.starts) if line_end < 0 else bisect_left(self.starts, line_end)
        return self.words[max(0, before - _BEFORE) : before][::-1], self.words[
            after : min(last, after + _AFTER)
        ]


def context_score(before: list[str], after: list[str]) -> float:
    """Points for and against, from the words before (nearest first) and after a candidate."""
    score = _keyword_score(before, after) + _label_penalty(before)
    if any(word in PROMO_WORDS for word in before[:6]) or any(word in PROMO_WORDS for word in after):
        score += _PROMO
    if any(tuple(after[: len(phrase)]) == phrase for phrase in IS_YOUR):
        score += 1.0
    if before[:1] and before[0] in USE_WORDS:
        score += 0.6 + (
            0.3 if any(word in ("to", "para", "pour", "um", "per", "om") for word in after[:2]) else 0
        )
    return score


def _keyword_score(before: list[str], after: list[str]) -> float:
    best = 0.0
    kinds: set[float] = set()
    for distance, word in enumerate(before):
        weight = _weight(word, previous=_at(before, distance + 1), following=_at(before, distance - 1))
        if weight:
            kinds.add(weight)
            best = max(best, weight / (1 + 0.3 * distance))
    for distance, word in enumerate(after[:6]):
        weight = _weight(word, previous=_at(after, distance - 1), following=_at(after, distance + 1))
        if weight:
            kinds.add(weight)
            best = max(best, _AFTER_FACTOR * weight / (1 + 0.3 * distance))
    names_code = bool(kinds & {_NOUN, _COMPOUND})
    return best + (0.5 if names_code and len(kinds) > 1 else 0.0)


def _at(words: list[str], index: int) -> str:
    return words[index] if 0 <= index < len(words) else ""


def _weight(word: str, previous: str, following: str) -> float:
    if word in CODE_NOUNS:
        modified = previous in CODE_MODIFIERS_BEFORE or following in CODE_MODIFIERS_AFTER
        return 0.0 if modified else _NOUN
    if is_code_compound(word):
        return _COMPOUND
    if word in QUALIFIERS:
        return _QUALIFIER
    if word in PASSWORD_WORDS:
        return _PASSWORD
    return 0.0


def is_code_compound(word: str) -> bool:
    """A word ending in "code" that names a code: "Bestätigungscode", "login-code", "verificatiecode"."""
    if word in NOT_CODE_NOUNS or len(word) <= 5:
        return False
    for suffix in ("codes", "code", "kode"):
        if word.endswith(suffix):
            prefix = word[: -len(suffix)].rstrip("-")
            return prefix in CODE_COMPOUND_PREFIXES or prefix.endswith(("ungs", "heits", "keits", "ions"))
    return False


def _label_penalty(before: list[str]) -> float:
    """A label right before the number (small words and "number"/"#" may stand between)."""
    numbered = False
    for distance, word in enumerate(before[:5]):
        if word in FILLERS:
            continue
        if word in NUMBER_WORDS or word in ("#", "°", "º"):
            numbered = True
            continue
        if word in CODE_NOUNS:
            modified = _at(before, distance + 1) in CODE_MODIFIERS_BEFORE
            return _LABEL if modified else 0.0
        if is_code_compound(word):
            return 0.0
        if word in LABELS or word in NOT_CODE_NOUNS or word in PHONE_WORDS:
            return _LABEL
        if word in QUALIFIERS:
            return _NUMBER_LABEL * 0.75 if numbered else 0.0
        return _NUMBER_LABEL if numbered else 0.0
    return _NUMBER_LABEL if numbered else 0.0
