"""The small search language of the HTTP API: `from:`, `to:`, `subject:`, `has:attachment`, `is:unread`,
`is:read`, `is:flagged`, `is:verified`, `from-verified:`, `tag:`, `before:`, `after:` and free words, all
of which must match.

`is:verified` matches messages whose From domain was authenticated at delivery; `from-verified:DOMAIN`
those whose authenticated From domain is DOMAIN or one of its subdomains.

Values may be quoted (`subject:"your code"`). Words match the subject or the text, case-insensitively.
Dates are `YYYY-MM-DD` (UTC midnight) or ISO 8601 date-times; `before:` is exclusive, `after:` inclusive.

`is:unread`, `is:read`, `is:flagged`, `before:` and `after:` mean what IMAP SEARCH's UNSEEN, SEEN,
FLAGGED, BEFORE and SINCE mean: `MessageQuery.shared_criteria` gives them as the shared criteria of
`search_criteria.py`, whose `matches` defines them for both. The other terms are the API's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mailservice.domain.errors import InvalidInput
from mailservice.domain.messages import FLAGGED, SEEN
from mailservice.domain.search_criteria import Criterion, Flag, Received, all_of

MAX_QUERY_CHARS = 500
MAX_TERMS = 20
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TOKEN = re.compile(r'\s*(?:(?P<key>[A-Za-z]+(?:-[A-Za-z]+)?):)?(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+))')


@dataclass(frozen=True)
class MessageQuery:
    senders: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    has_attachment: bool | None = None
    unread: bool | None = None
    flagged: bool | None = None
    tag: str | None = None
    before: datetime | None = None
    after: datetime | None = None
    verified: bool | None = None
    verified_domains: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == MessageQuery()

    @property
    def shared_criteria(self) -> Criterion:
        """The terms IMAP SEARCH has too (`Everything` when there are none)."""
        found: list[Criterion] = []
        if self.unread is not None:
            found.append(Flag(SEEN, present=not self.unread))
        if self.flagged:
            found.append(Flag(FLAGGED))
        if self.after is not None or self.before is not None:
            found.append(Received(since=self.after, before=self.before))
        return all_of(found)


def parse_query(text: str | None) -> MessageQuery:
    """Parse `q`; raise InvalidInput with a clear message for anything it does not understand."""
    if text is None or not text.strip():
        return MessageQuery()
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q is longer than {MAX_QUERY_CHARS} characters")
    query = MessageQuery()
    terms = 0
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise InvalidInput(f"cannot parse q near: {stripped[position : position + 20]!r}")
        position = match.end()
        terms += 1
        if terms > MAX_TERMS:
            raise InvalidInput(f"q has more than {MAX_TERMS} terms")
        value = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
        query = _apply(query, (match.group("key") or "").lower(), value.strip())
    return query


def _apply(query: MessageQuery, key: str, value: str) -> MessageQuery:
    if not value:
        raise InvalidInput(f"empty value in q for {key or 'a word'}")
    if key == "":
        return replace(query, words=(*query.words, value.lower()))
    if key == "from":
        return replace(query, senders=(*query.senders, value.lower()))
    if key == "to":
        return replace(query, recipients=(*query.recipients, value.lower()))
    if key == "subject":
        return replace(query, subjects=(*query.subjects, value.lower()))
    if key == "tag":
        return replace(query, tag=value.lower())
    if key == "from-verified":
        return replace(query, verified_domains=(*query.verified_domains, _domain(value)))
    if key == "before":
        return replace(query, before=parse_moment(value, key))
    if key == "after":
        return replace(query, after=parse_moment(value, key))
    if key == "has" and value.lower() in ("attachment", "attachments"):
        return replace(query, has_attachment=True)
    if key == "is":
        return _apply_state(query, value.lower())
    raise InvalidInput(f"unknown search term {key}:{value}; see the q grammar in the API documentation")


def _apply_state(query: MessageQuery, state: str) -> MessageQuery:
    if state == "unread":
        return replace(query, unread=True)
    if state in ("read", "seen"):
        return replace(query, unread=False)
    if state in ("flagged", "starred"):
        return replace(query, flagged=True)
    if state == "verified":
        return replace(query, verified=True)
    raise InvalidInput(f"unknown search term is:{state}; use is:unread, is:read, is:flagged or is:verified")


def _domain(value: str) -> str:
    domain = value.lower().lstrip("@").rstrip(".")
    if not _DOMAIN.fullmatch(domain):
        raise InvalidInput(
            f"from-verified: needs a domain name, like from-verified:example.com, not {value!r}"
        )
    return domain


def parse_moment(value: str, name: str) -> datetime:
    """A `YYYY-MM-DD` date (UTC midnight) or an ISO 8601 date-time, as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 date-time") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
