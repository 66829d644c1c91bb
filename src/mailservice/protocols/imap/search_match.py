"""Whether a message matches a SEARCH key. The shared criteria (flags, internal date, size, NOT, OR,
AND) mean what `domain.search_criteria.predicate` says, the one definition the HTTP API's `q` is held
to; the tests of the keys of IMAP alone are built here. Flag, date, size, uid and modseq keys need only
the folder view's metadata; header, text and sent-date keys read the message (`needs_content`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from operator import attrgetter

from mailservice.domain import search_criteria
from mailservice.domain.mail_session import MessageMeta, MessageStructure
from mailservice.domain.search_criteria import OwnCriterion, walk
from mailservice.mime.addresses import GROUP_END, GROUP_START, parse_address_list
from mailservice.mime.header_fields import field_values
from mailservice.mime.headers import decode_words, parse_date, to_addresses
from mailservice.mime.sections import stored_parts
from mailservice.mime.text import decoded_part
from mailservice.protocols.imap.search_keys import (
    HeaderKey,
    ModSeqKey,
    SearchKey,
    SentDateKey,
    SequenceKey,
    TextKey,
    WithinKey,
)


@dataclass
class Candidate:
    number: int
    meta: MessageMeta
    count: int
    uids: list[int]
    raw: bytes | None = None
    structure: MessageStructure | None = None
    saved: frozenset[int] = frozenset()
    """The uids of the saved result, for `$`."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    """What YOUNGER and OLDER count back from."""


def needs_content(key: SearchKey) -> bool:
    return any(isinstance(inner, HeaderKey | TextKey | SentDateKey) for inner in walk(key))


def uses_modseq(key: SearchKey) -> bool:
    return any(isinstance(inner, ModSeqKey) for inner in walk(key))


def message_test(key: SearchKey) -> Callable[[Candidate], bool]:
    """The test of `key`, built once per search and asked of every candidate."""
    return search_criteria.predicate(key, _META, _own_test)


def matches(key: SearchKey, message: Candidate) -> bool:
    return message_test(key)(message)


_META = attrgetter("meta")


def _own_test(key: OwnCriterion) -> Callable[[Candidate], bool]:
    if isinstance(key, ModSeqKey):
        modseq = key.modseq
        return lambda message: message.meta.modseq >= modseq
    if isinstance(key, SequenceKey):
        return partial(_in_set, key)
    if isinstance(key, WithinKey):
        return partial(_within, key.younger, timedelta(seconds=key.seconds))
    if isinstance(key, SentDateKey):
        return lambda message: _compare(_sent_day(message), key.op, key.day)
    if isinstance(key, HeaderKey):
        return partial(_header_matches, key)
    if isinstance(key, TextKey):
        return partial(_text_matches, key)
    raise TypeError(f"not a SEARCH key: {key!r}")


def _within(younger: bool, interval: timedelta, message: Candidate) -> bool:
    return (message.meta.internal_date > message.now - interval) == younger


def _in_set(key: SequenceKey, message: Candidate) -> bool:
    if key.sequence_set.saved:
        return message.meta.uid in message.saved
    if key.uid:
        largest = message.uids[-1] if message.uids else 0
        return any(
            min(_or(low, largest), _or(high, largest))
            <= message.meta.uid
            <= max(_or(low, largest), _or(high, largest))
            for low, high in key.sequence_set.ranges
        )
    return any(
        min(_or(low, message.count), _or(high, message.count))
        <= message.number
        <= max(_or(low, message.count), _or(high, message.count))
        for low, high in key.sequence_set.ranges
    )


def _or(value: int | None, largest: int) -> int:
    return largest if value is None else value


def _compare(day: date, op: str, wanted: date) -> bool:
    if op == "BEFORE":
        return day < wanted
    if op == "ON":
        return day == wanted
    return day >= wanted


def _header(message: Candidate) -> bytes:
    raw = message.raw or b""
    end = message.structure.header_end if message.structure is not None else len(raw)
    return raw[:end]


NO_SENT_DATE = date(1970, 1, 1)
"""What a message without a readable Date: header counts as sent on, as in Dovecot (SENTBEFORE finds it)."""


def _sent_day(message: Candidate) -> date:
    values = field_values(_header(message), "date")
    moment = parse_date(values[0]) if values else None
    return NO_SENT_DATE if moment is None else moment.date()


def _header_matches(key: HeaderKey, message: Candidate) -> bool:
    values = field_values(_header(message), key.field)
    if not key.text:
        return bool(values)
    wanted = key.text.casefold()
    as_text = _addresses_text if key.field.lower() in _ADDRESS_FIELDS else decode_words
    return any(wanted in as_text(value).casefold() for value in values)


_ADDRESS_FIELDS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})


def _addresses_text(value: bytes) -> str:
    """An address field as `name <mailbox@host>, group: ...;`, comments and folding gone: what Dovecot
    matches FROM, TO, CC and BCC against."""
    pieces: list[str] = []
    for raw in parse_address_list(value):
        if raw.kind == GROUP_START:
            pieces.append(decode_words(raw.mailbox or b"") + ":")
        elif raw.kind == GROUP_END:
            pieces.append(";")
        else:
            pieces.extend(f"{found.name or ''} <{found.email}>" for found in to_addresses([raw]))
    return " ".join(pieces)


def _text_matches(key: TextKey, message: Candidate) -> bool:
    wanted = key.text.casefold()
    if key.whole and any(wanted in decode_words(line).casefold() for line in _header(message).split(b"\n")):
        return True
    return wanted in _body_text(message).casefold()


def _body_text(message: Candidate) -> str:
    raw = message.raw or b""
    structure = message.structure
    if structure is None:
        return raw.decode("utf-8", "replace")
    parts = stored_parts(structure.header_end, structure.content_type, structure.parts_json).parts
    texts = [
        decoded_part(raw, part)
        for part in parts
        if part.content_type.startswith("text/") or part.content_type in ("", "text")
    ]
    if not parts:
        texts.append(raw[structure.header_end :].decode("utf-8", "replace"))
    return "\n".join(texts)
