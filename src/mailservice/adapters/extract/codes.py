"""Verification and one-time codes in a message, best first.

Candidates are 4-10 digit numbers, digit groups split by spaces ("482 913" or "4 8 2 9 1 3", given
as "482913"), and codes of capital letters and digits, possibly with dashes, kept as written
("A7K-29Q", "G-482913"). Each is scored from its shape (six digits is the most common), the words
around it (see `code_context`), where it stands (the subject, alone on a line or in a table cell,
emphasised in the HTML) and what else it looks like (see `code_lookalikes`: dates, amounts, phone
numbers, order numbers, postal codes, footers...). A code found in the text part but not in the
visible HTML loses points: it may be hidden from people. So does a code in quoted history (lines
starting with ">", an HTML blockquote or a mail client's quote container): it is an old one.

Scores are in [0, 1). Only candidates scoring at least `CONFIDENT_SCORE` are returned, so a message
without a code gives an empty list. Ties keep the order of first appearance (subject, text, HTML).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from .code_context import WordIndex, context_score
from .code_lookalikes import lookalike_penalty
from .code_sources import Source, html_source, subject_source, text_source

CONFIDENT_SCORE = 0.5
"""The lowest score returned by default: one point of evidence past the shape of a code."""

_RAW_AT_HALF = 2.0  # raw points mapped to a score of 0.5
# Only tokens with a digit can be codes (`_shape` refuses the rest); the look-ahead skips plain words early.
_TOKEN = re.compile(r"(?<!\w)(?=[A-Za-z0-9-]*\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?!\w)")
_SPLIT = re.compile(
    r"(?<![\w+(.,/:-])(?:\d{3} \d{3}(?: \d{3})?|\d{4} \d{4}|\d{2} \d{2} \d{2}|\d(?: \d){5,7})(?![\w.,/:-])"
)
_DATE = re.compile(r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{2,4}|\d{4}-\d{2})$")
_US_LOCAL_PHONE = re.compile(r"^\d{3}-\d{4}$")
_UNIT_OR_ORDINAL = re.compile(
    r"^\d+(?:st|nd|rd|th|am|pm|h|hrs?|k|m|x|px|kb|mb|gb|tb|min|s|ms|km|kg|g|cm|mm|ml|l|p|fps|hz|khz|mhz|ghz"
    r"|w|kw|kwh|v|mah|mp|d|y|yr|yrs|er|e|eme|ème|o|a|ª|º)$",
    re.IGNORECASE,
)
_LETTER_RUN = re.compile(r"[A-Za-z]{4,}")
_ASCII_DIGIT = re.compile(r"[0-9]")
_ANY_DIGIT = re.compile(r"\d")
_DECORATION = " \t*_\"'«»“”„\u201a\u2018\u2019[](){}<>:.!|\u2013—-=~"
_MAX_CANDIDATES = 2000
_LINE_REACH = 200
_QUOTED_PENALTY = 1.5  # a code in quoted history is an old one: it never outranks one in new text
_DIGIT_SHAPE = {4: 0.3, 5: 0.5, 6: 1.0, 7: 0.5, 8: 0.6, 9: 0.3, 10: 0.2}


@dataclass(frozen=True)
class CodeCandidate:
    code: str
    score: float
    context: str
    source: str  # "subject", "text" or "html"


@dataclass(slots=True)
class _Found:
    code: str
    points: float
    context: str
    source: str
    order: tuple[int, int]


def extract_codes(
    subject: str | None,
    text: str,
    html: str | None = None,
    limit: int = 5,
    *,
    min_score: float = CONFIDENT_SCORE,
) -> list[CodeCandidate]:
    if limit <= 0:
        return []
    sources = [text_source(text or "")]
    if subject:
        sources.insert(0, subject_source(subject))
    if html:
        sources.append(html_source(html))
    found: list[_Found] = []
    for source in sources:
        found += _scan(source)
    best = _merge(found, html_shows_text=any(s.name == "html" and s.text.strip() for s in sources))
    ranked = sorted(best, key=lambda item: (-_score(item.points), item.order))
    chosen = [item for item in ranked if _score(item.points) >= min_score][:limit]
    return [CodeCandidate(item.code, _score(item.points), item.context, item.source) for item in chosen]


def _score(points: float) -> float:
    return 0.0 if points <= 0 else round(points / (points + _RAW_AT_HALF), 4)


def _merge(found: list[_Found], html_shows_text: bool) -> list[_Found]:
    """One entry per code: its best occurrence, first position, and agreement between parts."""
    by_code: dict[str, list[_Found]] = {}
    for item in found:
        by_code.setdefault(item.code, []).append(item)
    merged: list[_Found] = []
    for code, items in by_code.items():
        best = max(items, key=lambda item: (item.points, -item.order[0], -item.order[1]))
        names = {item.source for item in items}
        points = best.points
        if "subject" in names and names - {"subject"}:
            points += 0.5
        if html_shows_text and names == {"text"}:
            points -= 1.5
        first = min(item.order for item in items)
        merged.append(_Found(code, points, best.context, best.source, first))
    return merged


def _scan(source: Source) -> list[_Found]:
    scanned = source.scanned
    words: WordIndex | None = None  # built only when a candidate needs it: most text has none
    found: list[_Found] = []
    for start, end, code, shape in _candidates(scanned):
        penalty = lookalike_penalty(scanned, start, end, code)
        if penalty is None:
            continue
        words = words or WordIndex(scanned)
        before, after = words.around(start, end)
        points = shape + penalty + context_score(before, after) + _placement(source, start, end)
        context = _context(source.text, start, end)
        found.append(_Found(code, points, context, source.name, (source.rank, start)))
    return found


def _candidates(text: str) -> list[tuple[int, int, str, float]]:
    """(start, end, code, points for its shape) of every code-shaped span."""
    return candidates_in_lines(text, digit_lines(text))


def candidates_in_lines(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int, str, float]]:
    """`_candidates`, looking only at the given (start, end) spans of `text`."""
    found: list[tuple[int, int, str, float]] = []
    covered: list[tuple[int, int]] = []
    for match in _matches(_SPLIT, text, lines):
        start, end = match.span()
        if _more_groups(text, start, end):
            continue
        digits = match.group(0).replace(" ", "")
        found.append((start, end, digits, 0.8 if len(digits) == 6 else 0.4))
        covered.append((start, end))
    for match in _matches(_TOKEN, text, lines):
        if len(found) >= _MAX_CANDIDATES:
            break
        start, end = match.span()
        if any(left <= start and end <= right for left, right in covered):
            continue
        shape = _shape(match.group(0))
        if shape is not None:
            found.append((start, end, match.group(0), shape))
    return found


def digit_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line holding a digit: the only places a code can be.

    No candidate pattern crosses a newline, and a newline is outside every class their look-arounds
    test, so matching line by line finds exactly what matching the whole text finds, while most of
    a message's text is never looked at.
    """
    if text.isascii():
        if not any(digit in text for digit in "0123456789"):
            return []
        digit = _ASCII_DIGIT
    else:
        digit = _ANY_DIGIT
    lines: list[tuple[int, int]] = []
    found = digit.search(text)
    while found is not None:
        start = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.end())
        end = len(text) if end < 0 else end
        lines.append((start, end))
        found = digit.search(text, end)
    return lines


def _matches(pattern: re.Pattern[str], text: str, lines: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    for start, end in lines:
        yield from pattern.finditer(text, start, end)


def _more_groups(text: str, start: int, end: int) -> bool:
    """Digit groups go on before or after: part of a phone, card or account number."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return (len(before) == 2 and before[0].isdigit() and before[1] in " .-") or (
        len(after) == 2 and after[0] in " .-" and after[1].isdigit()
    )


def _shape(token: str) -> float | None:
    """Points for a token's shape as a code, or None when it cannot be one."""
    plain = token.replace("-", "")
    if plain.isdigit():
        if "-" not in token:
            return _DIGIT_SHAPE.get(len(plain))
        if _DATE.match(token) or _US_LOCAL_PHONE.match(token) or not 4 <= len(plain) <= 10:
            return None
        return 0.9 if len(plain) == 6 else 0.4
    if not 4 <= len(plain) <= 12 or token.count("-") > 3 or not any(char.isdigit() for char in plain):
        return None
    if _UNIT_OR_ORDINAL.match(plain) or (len(plain) <= 4 and plain[0].isalpha() and plain[1:].isdigit()):
        return None
    points = 0.8 if 6 <= len(plain) <= 8 else 0.5
    if any(char.islower() for char in plain):
        if _LETTER_RUN.search(plain):
            return None
        points -= 1.5
    transitions = sum(1 for left, right in pairwise(plain) if left.isdigit() != right.isdigit())
    if transitions <= 1 and _LETTER_RUN.search(plain):
        points -= 1.2  # a word and a number: "WINTER2024", "COVID19", "SHA256"
    digits = sum(char.isdigit() for char in plain)
    if transitions <= 1 and digits <= 2:
        points -= 0.8  # "MP3", "SAVE20"
    return points


def _placement(source: Source, start: int, end: int) -> float:
    text = source.scanned
    line_start = text.rfind("\n", max(0, start - _LINE_REACH), start) + 1
    if line_start == 0 and start > _LINE_REACH:
        line_start = -1
    line_end = text.find("\n", end, end + _LINE_REACH)
    if line_end < 0:
        line_end = len(text) if len(text) - end <= _LINE_REACH else -1
    points = 0.3 if source.name == "subject" else 0.0
    if source.in_quoted_history(start):
        points -= _QUOTED_PENALTY
    if source.emphasised(start, end):
        points += 0.6
    if line_start < 0 or line_end < 0:
        return points
    before = text[line_start:start].strip(_DECORATION)
    after = text[end:line_end].strip(_DECORATION)
    if not before and not after:
        points += 1.0
    elif not after and 0 < len(before) <= 60 and text[line_start:start].rstrip().endswith((":", "\uff1a")):
        points += 0.5
    return points


def _context(text: str, start: int, end: int) -> str:
    """About 90 characters around the code, cut at word boundaries, whitespace collapsed."""
    reach = 45
    before = text[max(0, start - reach) : start]
    if start > reach and " " in before.strip():
        before = before[before.find(" ") :]
    after = text[end : end + reach]
    if end + reach < len(text) and " " in after.strip():
        after = after[: after.rfind(" ")]
    return " ".join((before + text[start:end] + after).split())
