"""Numbers that only look like one-time codes, told by the characters and the line around them:
parts of larger numbers, dates, times and versions, amounts, percentages and quantities, years,
phone numbers, postal codes in addresses, and numbers in footers.

`lookalike_penalty` gives None when the number is surely not a code, else a penalty (zero or less).
"""

from __future__ import annotations

import re

from .code_words import CURRENCY_SYMBOLS, CURRENCY_WORDS, MONTHS, UNITS

_NUMBER_JOINERS = ".,:/'\u2019"
_CURRENCY_BEFORE = re.compile(
    r"(?:" + "|".join(re.escape(word) for word in sorted(CURRENCY_WORDS)) + r")\s?$", re.IGNORECASE
)
_WORD_AFTER = re.compile(r"\s?([^\W\d_][\w'/.]*)")
_WORD_BEFORE = re.compile(r"([^\W\d_][\w']*)\.?,?\s*$")
_STATE_BEFORE = re.compile(r"\b[A-Z]{2},?\s$")
_COUNTRY_ZIP = re.compile(r"^[A-Z]{1,3}-\d{4,5}$")
_FOOTER = re.compile(
    r"©|\(c\)|copyright|all rights reserved|alle rechte vorbehalten|tous droits réservés|todos los derechos"
    r"|unsubscribe|abmelden|abbestellen|désabonner|désinscri|darse de baja|descadastr|\binc\b|\bllc\b"
    r"|\bgmbh\b|\bltd\b|\bs\.a\.|\bs\.l\.|\bb\.v\.|\bag\b|\bcorp\b|registered (?:office|in)|registergericht"
    r"|\bhrb\b|ust-id|vat (?:no|number|id)|company (?:no|number)|privacy policy|datenschutz",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"\bstreet\b|\bst\.|\bavenue\b|\bave\b|\broad\b|\brd\.|\bblvd\b|\bsuite\b|\bfloor\b|straße|strasse"
    r"|\bstr\.|platz\b|allee\b|\bweg\b|\brue\b|\bboulevard\b|\bcalle\b|\bavenida\b|\bav\.|\brua\b"
    r"|p\.?\s?o\.? box|postfach|\bcedex\b|\blane\b|\bdrive\b|\bway\b|\bplaza\b|\bhighway\b",
    re.IGNORECASE,
)
_CITY_AFTER = re.compile(r"\s+[A-ZÄÖÜÉ][a-zäöüßéèà]+")
_PHONE = re.compile(r"(?:\+|\b00|\(|\b)\d[\d \u00a0().\-/]{6,}\d\b")
_PHONE_DIGITS = 9
_LINE_REACH = 120  # characters of the line, each side, that are looked at
_COPYRIGHT = re.compile(r"©|\(c\)|copyright", re.IGNORECASE)


def lookalike_penalty(text: str, start: int, end: int, code: str) -> float | None:
    before = text[max(0, start - 12) : start]
    after = text[end : end + 24]
    if _inside_larger_number(before, after) or before.endswith("+"):
        return None
    if _amount_or_quantity(before, after):
        return None
    line_start = max(text.rfind("\n", max(0, start - _LINE_REACH), start) + 1, start - _LINE_REACH, 0)
    line_end = text.find("\n", end, end + _LINE_REACH)
    line = text[line_start : min(len(text), end + _LINE_REACH) if line_end < 0 else line_end]
    if _in_phone_number(line, start - line_start, end - line_start):
        return None
    digits = code.replace("-", "").replace(" ", "")
    penalty = 0.0
    if before.endswith("#"):
        penalty -= 2.0
    if digits.isdigit() and len(digits) == 4 and 1900 <= int(digits) <= 2099:
        if _next_to_date_word(before, after) or _COPYRIGHT.search(line):
            return None
        penalty -= 1.6
    if digits.isdigit() and len(digits) == 5 and _STATE_BEFORE.search(before):
        return None
    if _COUNTRY_ZIP.match(code):
        penalty -= 1.5
    if _FOOTER.search(line):
        penalty -= 1.5
    if digits.isdigit() and len(digits) in (4, 5) and _ADDRESS.search(line):
        penalty -= 2.0 if _CITY_AFTER.match(after) else 1.0
    return penalty


def _inside_larger_number(before: str, after: str) -> bool:
    joined_before = len(before) >= 2 and before[-1] in _NUMBER_JOINERS and before[-2].isdigit()
    joined_after = len(after) >= 2 and after[0] in _NUMBER_JOINERS and after[1].isdigit()
    return joined_before or joined_after


def _amount_or_quantity(before: str, after: str) -> bool:
    last_before = before.rstrip(" ")[-1:]
    if (last_before and last_before in CURRENCY_SYMBOLS) or _CURRENCY_BEFORE.search(before):
        return True
    first_after = after.lstrip(" ")[:2]
    if (first_after[:1] and first_after[0] in CURRENCY_SYMBOLS + "%°‰") or first_after in (",-", ".-"):
        return True
    word = _WORD_AFTER.match(after)
    return word is not None and word.group(1).lower().rstrip(".") in UNITS


def _next_to_date_word(before: str, after: str) -> bool:
    word_before = _WORD_BEFORE.search(before)
    word_after = _WORD_AFTER.match(after)
    words = [match.group(1).lower().rstrip(".") for match in (word_before, word_after) if match is not None]
    return any(word in MONTHS for word in words)


def _in_phone_number(line: str, start: int, end: int) -> bool:
    """Inside a run of digit groups that holds a phone number's worth of digits besides this one."""
    for match in _PHONE.finditer(line):
        if match.start() <= start and end <= match.end():
            digits = sum(char.isdigit() for char in match.group(0))
            own = sum(char.isdigit() for char in line[start:end])
            return digits >= _PHONE_DIGITS and digits > own
        if match.start() > end:
            break
    return False
