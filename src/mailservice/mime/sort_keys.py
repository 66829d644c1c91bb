"""What SORT and THREAD order messages by (RFC 5256, RFC 5957): the base subject, the sent date, the
first address of a field; computed from a message's header and its folder metadata. `sort_keys_of`
computes SORT's once, at delivery (`SortKeys`).

Strings are compared after `comparable`: letters in upper case and decomposed ("É" is "E" and an
accent), as Dovecot compares them; for ASCII that is RFC 5256's i;ascii-casemap.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from mailservice.domain.mail_session import MessageMeta
from mailservice.domain.messages import SortKeys
from mailservice.mime.addresses import GROUP_END, parse_address_list
from mailservice.mime.charset import decode_text
from mailservice.mime.header_fields import first_values
from mailservice.mime.headers import decode_words, parse_date

_BLOB = r"\[[^\[\]]*\][ \t]*"
_LEADER = re.compile(rf"(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:|[ \t]+", re.IGNORECASE)
_FIRST_BLOB = re.compile(_BLOB)
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_FORWARD_HEADER = "[fwd:"
_TRAILER = "(fwd)"


def base_subject(subject: str) -> str:
    """RFC 5256 section 2.1: the subject without reply and forward markers and list tags, from its
    decoded text (step 1, the decoding of encoded words, is `header_subject`'s)."""
    return _extract(subject)[0]


def is_reply_or_forward(subject: str) -> bool:
    """Whether extracting the base subject removed a "Re:", "Fwd:", "(fwd)" or "[fwd: ...]"."""
    return _extract(subject)[1]


def _extract(subject: str) -> tuple[str, bool]:
    text = _WHITESPACE.sub(" ", subject)
    marked = False
    while True:
        text, trailer = _without_trailers(text)
        text, leader = _without_leaders(text)
        marked = marked or trailer or leader
        if not (text[: len(_FORWARD_HEADER)].lower() == _FORWARD_HEADER and text.endswith("]")):
            return text, marked
        text = text[len(_FORWARD_HEADER) : -1]
        marked = True


def _without_trailers(text: str) -> tuple[str, bool]:
    """Step 2: trailing "(fwd)" and whitespace; whether a "(fwd)" was removed."""
    removed = False
    while True:
        if text.endswith((" ", "\t")):
            text = text.rstrip(" \t")
        elif text[-len(_TRAILER) :].lower() == _TRAILER:
            text = text[: -len(_TRAILER)]
            removed = True
        else:
            return text, removed


def _without_leaders(text: str) -> tuple[str, bool]:
    """Steps 3 to 5: leading "Re:", "Fwd:", "[tag] Re:" and whitespace, and a leading "[tag]" when
    something follows it, until none is left; whether a "Re:" or "Fwd:" was removed."""
    removed = False
    while True:
        leader = _LEADER.match(text)
        if leader is not None and leader.end() > 0:
            removed = removed or not leader.group(0).isspace()
            text = text[leader.end() :]
            continue
        blob = _FIRST_BLOB.match(text)
        if blob is not None and text[blob.end() :]:
            text = text[blob.end() :]
            continue
        return text, removed


def comparable(text: str) -> str:
    """One character for one (simple case mapping: "ß" stays), then decomposed."""
    if text.isascii():
        return text.upper()
    upper = "".join(capital if len(capital := character.upper()) == 1 else character for character in text)
    return unicodedata.normalize("NFKD", upper)


SORT_FIELDS = ("subject", "date", "from", "to", "cc", "message-id", "references", "in-reply-to")
"""The header fields SORT and THREAD read (the first of each: `first_values(header, SORT_FIELDS)`)."""


def subject_text(value: bytes | None) -> str:
    return "" if value is None else decode_words(value)


def sent_date(value: bytes | None, meta: MessageMeta) -> datetime:
    """The Date header's moment; the internal date when it is missing or unreadable (RFC 5256)."""
    moment = parse_date(value) if value is not None else None
    return meta.internal_date if moment is None else moment


def first_mailbox(value: bytes | None) -> str:
    """The local part of an address field's first address (a group's name for a group), "" when none."""
    for address in parse_address_list(value or b"")[:1]:
        if address.kind != GROUP_END and address.mailbox is not None:
            return decode_text(address.mailbox, None)
    return ""


def display_name(value: bytes | None) -> str:
    """RFC 5957: the first address's decoded display name, else its `mailbox@host`."""
    for address in parse_address_list(value or b"")[:1]:
        if address.kind == GROUP_END:
            return ""
        if address.name:
            name = decode_words(address.name).strip()
            if name:
                return name
        mailbox = decode_text(address.mailbox or b"", None)
        domain = decode_text(address.domain or b"", None)
        return f"{mailbox}@{domain}" if domain else mailbox
    return ""


def sort_keys_of(header: bytes) -> SortKeys:
    """SORT's keys of a message from its header block."""
    fields = first_values(header, SORT_FIELDS)
    date = fields.get("date")
    return SortKeys(
        subject=comparable(base_subject(subject_text(fields.get("subject")))),
        sent=parse_date(date) if date is not None else None,
        from_=comparable(first_mailbox(fields.get("from"))),
        to=comparable(first_mailbox(fields.get("to"))),
        cc=comparable(first_mailbox(fields.get("cc"))),
        display_from=comparable(display_name(fields.get("from"))),
        display_to=comparable(display_name(fields.get("to"))),
    )
