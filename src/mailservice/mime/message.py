"""`parse_mime`: one pass over a delivered message, producing everything IMAP asks for later."""

from __future__ import annotations

import re

from .bodystructure import write
from .charset import decode_text
from .envelope import read_envelope, write_envelope
from .headers import decode_header_text, parse_date, to_addresses, unfold
from .imap_string import imap_text
from .parsed import MimeMessage, PartInfo
from .parts import number_parts
from .structure import scan
from .text import extract

_MESSAGE_ID = re.compile(rb"<[^<>]*>")
_EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" %d %d'


def parse_mime(raw: bytes) -> MimeMessage:
    """Parse a raw RFC 5322 message. Never raises: hopeless input gets a plain single-part reading."""
    try:
        return build_mime(raw)
    except Exception:
        return _unreadable(raw)


def build_mime(raw: bytes) -> MimeMessage:
    """`parse_mime` without the safety net (tests use it to see real errors)."""
    root = scan(raw)
    envelope = read_envelope(root.fields)
    numbered = number_parts(root)
    text, html = extract(raw, root, numbered)
    body, structure = write(raw, root)
    return MimeMessage(
        header_end=root.header_end,
        content_type=root.mime.type_name,
        subject=decode_header_text(envelope.subject),
        from_=to_addresses(envelope.from_),
        to=to_addresses(envelope.to),
        cc=to_addresses(envelope.cc),
        reply_to=to_addresses(envelope.reply_to),
        date=parse_date(envelope.date),
        date_header=_clean(envelope.date),
        message_id=_message_id(envelope.message_id),
        envelope=imap_text(write_envelope(envelope)),
        body=imap_text(body),
        bodystructure=imap_text(structure),
        parts=tuple(part.info for part in numbered),
        text=text,
        html=html,
        has_attachments=any(part.info.is_attachment for part in numbered),
    )


def _clean(value: bytes | None) -> str | None:
    return None if value is None else decode_text(unfold(value), None).strip()


def _message_id(value: bytes | None) -> str | None:
    if value is None:
        return None
    found = _MESSAGE_ID.search(value)
    return _clean(found.group(0) if found is not None else value) or None


def _unreadable(raw: bytes) -> MimeMessage:
    """Should parsing ever fail: the whole input as the body of one text/plain part."""
    lines = raw.count(b"\n")
    body = _EMPTY_BODY % (len(raw), lines)
    part = PartInfo("1", "text/plain", 0, 0, 0, len(raw), None, None, None, None, False)
    return MimeMessage(
        header_end=0,
        content_type="text/plain",
        subject=None,
        from_=(),
        to=(),
        cc=(),
        reply_to=(),
        date=None,
        date_header=None,
        message_id=None,
        envelope="(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
        body=body + ")",
        bodystructure=body + " NIL NIL NIL NIL)",
        parts=(part,),
        text=decode_text(raw, None).replace("\r\n", "\n"),
        html=None,
        has_attachments=False,
    )
