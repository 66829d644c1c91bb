"""IMAP ENVELOPE (RFC 3501 section 7.4.2) from a message's header fields, as Dovecot 2.3 writes it.

Date, In-Reply-To and Message-ID are the raw values with CR and LF removed; Subject and display
names are the raw (still RFC 2047 encoded) text, whitespace collapsed (see `for_humans`). When a
field repeats, the last Date/Subject/In-Reply-To/Message-ID wins and address lists add up. Sender
and Reply-To fall back to From. Unparseable addresses get Dovecot's placeholders. NULs in the
string fields become U+FFFD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .addresses import GROUP_END, GROUP_START, RawAddress, parse_address_list
from .header_block import Fields
from .imap_string import NIL, for_humans, nstring, nstring_nolf, without_nuls

_STRINGS = {
    b"date": "date",
    b"subject": "subject",
    b"in-reply-to": "in_reply_to",
    b"message-id": "message_id",
}
_ADDRESSES = {
    b"from": "from_",
    b"sender": "sender",
    b"reply-to": "reply_to",
    b"to": "to",
    b"cc": "cc",
    b"bcc": "bcc",
}
_GROUP_END = b"(NIL NIL NIL NIL)"


@dataclass(slots=True)
class Envelope:
    date: bytes | None = None
    subject: bytes | None = None
    in_reply_to: bytes | None = None
    message_id: bytes | None = None
    from_: list[RawAddress] = field(default_factory=list)
    sender: list[RawAddress] = field(default_factory=list)
    reply_to: list[RawAddress] = field(default_factory=list)
    to: list[RawAddress] = field(default_factory=list)
    cc: list[RawAddress] = field(default_factory=list)
    bcc: list[RawAddress] = field(default_factory=list)


def read_envelope(fields: Fields) -> Envelope:
    envelope = Envelope()
    for name, value in fields:
        if (attribute := _STRINGS.get(name)) is not None:
            setattr(envelope, attribute, without_nuls(value))
        elif (attribute := _ADDRESSES.get(name)) is not None:
            getattr(envelope, attribute).extend(parse_address_list(value))
    return envelope


def write_envelope(envelope: Envelope) -> bytes:
    from_ = _address_list(envelope.from_)
    items = (
        nstring_nolf(envelope.date),
        for_humans(envelope.subject),
        from_,
        _address_list(envelope.sender) if envelope.sender else from_,
        _address_list(envelope.reply_to) if envelope.reply_to else from_,
        _address_list(envelope.to),
        _address_list(envelope.cc),
        _address_list(envelope.bcc),
        nstring_nolf(envelope.in_reply_to),
        nstring_nolf(envelope.message_id),
    )
    return b"(" + b" ".join(items) + b")"


def _address_list(addresses: list[RawAddress]) -> bytes:
    if not addresses:
        return NIL
    return b"(" + b"".join(_address(address) for address in addresses) + b")"


def _address(address: RawAddress) -> bytes:
    if address.kind == GROUP_END:
        return _GROUP_END
    if address.kind == GROUP_START:
        return b"(NIL NIL " + nstring(address.mailbox) + b" NIL)"
    route = b"INVALID_ROUTE" if address.invalid_route else address.route
    mailbox = b"MISSING_MAILBOX" if address.mailbox is None else address.mailbox
    domain = b"SYNTAX_ERROR" if address.syntax_error else address.domain or b"MISSING_DOMAIN"
    return b"(%s %s %s %s)" % (for_humans(address.name), nstring(route), nstring(mailbox), nstring(domain))
