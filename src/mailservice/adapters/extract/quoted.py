"""Quoted history in replies: what follows "On ... wrote:", "-----Original Message-----" or an
Outlook "From: / Sent: / To: / Subject:" header, and runs of lines starting with ">".

History is cut only when the message says something before it, so a bottom-posted reply keeps its
text, and forwarded messages ("Fwd:", "---------- Forwarded message ----------") are kept whole.
"""

from __future__ import annotations

import re

_MAX_LINE = 1000
_ATTRIBUTION = re.compile(
    r"^(?:on\b.{3,300}\bwrote|le\b.{3,300}\ba\s+écrit|am\b.{3,300}\bschrieb\b.{0,300}|el\b.{3,300}\bescribió"
    r"|em\b.{3,300}\bescreveu|op\b.{3,300}\bschreef\b.{0,300}|il\b.{3,300}\bha\s+scritto)\s?:$",
    re.IGNORECASE,
)
_WROTE = re.compile(
    r"\b(?:wrote|a\s+écrit|schrieb|escribió|escreveu|schreef|ha\s+scritto)\s?:$", re.IGNORECASE
)
_ATTRIBUTION_START = re.compile(r"^(?:on|le|am|el|em|op|il)\s", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original"
    r"|mensagem original|messaggio originale|oorspronkelijk bericht)\s*-{2,}$",
    re.IGNORECASE,
)
_FROM = re.compile(r"^\**(?:from|von|de|da|van|från|fra)\s?:", re.IGNORECASE)
_SENT = re.compile(
    r"^\**(?:sent|date|gesendet|datum|envoyé|enviado|fecha|inviato|data|verzonden|skickat)\s?:", re.IGNORECASE
)
_TO = re.compile(r"^\**(?:to|an|à|a|para|aan|till|til)\s?:", re.IGNORECASE)
_SUBJECT = re.compile(
    r"^\**(?:subject|betreff|objet|asunto|assunto|oggetto|onderwerp|ämne|emne)\s?:", re.IGNORECASE
)
_FORWARD_SUBJECT = re.compile(
    r"^\**(?:subject|betreff|objet|asunto|assunto|oggetto)\s?:\**\s*(?:fwd?|wg|tr|rv|enc)\s*:", re.IGNORECASE
)
_FORWARD_MARKER = re.compile(
    r"forwarded message|begin forwarded message|weitergeleitete nachricht|message transféré"
    r"|mensaje reenviado|mensagem encaminhada|messaggio inoltrato",
    re.IGNORECASE,
)
_RULE = re.compile(r"^[_\-=]{10,}$")


def trim_quoted(text: str) -> str:
    lines = text.split("\n")
    start = _history_start(lines)
    if start is not None:
        lines = lines[:start]
    return "\n".join(_without_quote_runs(lines))


def history_offset(text: str) -> int | None:
    """Where quoted history after an attribution, separator or Outlook header begins in `text`, as a
    character offset; None when there is none (runs of ">" lines are not looked for here)."""
    lines = text.split("\n")
    start = _history_start(lines)
    if start is None:
        return None
    return sum(len(line) + 1 for line in lines[:start])


def _history_start(lines: list[str]) -> int | None:
    said_something = False
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            continue
        if said_something:
            start = _history_at(lines, index)
            if start is not None:
                return start
        said_something = True
    return None


def _history_at(lines: list[str], index: int) -> int | None:
    line = lines[index].strip()[:_MAX_LINE]
    if _ends_like_attribution(line) and (
        _ATTRIBUTION.match(line) or (_WROTE.search(line) and _next_is_quote(lines, index))
    ):
        return index
    if line.startswith("-") and _SEPARATOR.match(line):
        return index
    if _ATTRIBUTION_START.match(line):
        following = lines[index + 1].strip()[:_MAX_LINE] if index + 1 < len(lines) else ""
        if _ATTRIBUTION.match(f"{line} {following}"):
            return index
    if _FROM.match(line) and _outlook_header(lines, index):
        previous = _previous_content(lines, index)
        return previous if previous is not None and _RULE.match(lines[previous].strip()) else index
    return None


def _outlook_header(lines: list[str], index: int) -> bool:
    block = [line.strip() for line in lines[index + 1 : index + 7]]
    if not all(any(pattern.match(line) for line in block) for pattern in (_SENT, _TO, _SUBJECT)):
        return False
    if any(_FORWARD_SUBJECT.match(line) for line in block):
        return False
    previous = _previous_content(lines, index)
    if previous is not None and _RULE.match(lines[previous].strip()):
        previous = _previous_content(lines, previous)
    return previous is None or not _FORWARD_MARKER.search(lines[previous])


def _previous_content(lines: list[str], index: int) -> int | None:
    for previous in range(index - 1, -1, -1):
        if lines[previous].strip():
            return previous
    return None


def _next_is_quote(lines: list[str], index: int) -> bool:
    for line in lines[index + 1 :]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


def _without_quote_runs(lines: list[str]) -> list[str]:
    """Lines starting with ">" are dropped, with an attribution line right before them."""
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue
        stripped = line.strip()[:_MAX_LINE]
        if (
            _ends_like_attribution(stripped)
            and (_ATTRIBUTION.match(stripped) or _WROTE.search(stripped))
            and _next_is_quote(lines, index)
        ):
            continue
        kept.append(line)
    return kept


def _ends_like_attribution(line: str) -> bool:
    """A stripped line that could be an attribution ("On ... wrote:"): both patterns end with a colon.

    Every line of a message is looked at, so this test of the last character saves running the
    patterns on all the others.
    """
    return line.endswith(":")
