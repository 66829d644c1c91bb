"""A message's MIME structure as parsed once: everything an IMAP server needs later.

Offsets are byte offsets into the raw message exactly as it was given to `parse_mime`, so every
`BODY[section]` answer is a slice of the stored bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox of an address header, display name RFC 2047 decoded; None for a missing piece."""

    name: str | None
    mailbox: str | None
    host: str | None

    @property
    def email(self) -> str:
        """`mailbox@host`, or "" when either half is missing."""
        if self.mailbox is None or self.host is None:
            return ""
        return f"{self.mailbox}@{self.host}"


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One MIME part with its IMAP section number and byte offsets into the raw message.

    `header_start:header_end` is the part's own MIME header (`BODY[section.MIME]`), blank line
    included when there is one; `body_start:body_end` is `BODY[section]` (for parts of a multipart
    the CRLF before the next boundary is excluded). `header_end == body_start` always.

    For a message/rfc822 part, `body_start:body_end` is the whole enclosed message,
    `message_header_end` is where the enclosed message's body starts and `message_body_end` where it
    ends (so `BODY[section.HEADER]` is `raw[body_start:message_header_end]` and
    `BODY[section.TEXT]` is `raw[message_header_end:message_body_end]`; the body end differs from
    `body_end` only for a broken enclosed header), and `message_content_type` is the enclosed
    message's type: when it is a multipart its children are `section.1`, `section.2`, ...;
    otherwise its single body is `section.1`. These fields are None for other parts.

    `content_type` is the lowercased "type/subtype" of the part's first Content-Type header
    ("text/plain" when absent, "message/rfc822" inside a multipart/digest). A broken header reads as
    Dovecot reads it: just "type" when the subtype is missing, "" when unreadable. A part is a
    multipart exactly when this starts with "multipart/", an enclosed message when it is
    "message/rfc822". `charset`, `transfer_encoding` and `disposition` are
    lowercased; `filename` is decoded (RFC 2231 and RFC 2047), from Content-Disposition's filename
    or else Content-Type's name.
    """

    section: str
    content_type: str
    header_start: int
    header_end: int
    body_start: int
    body_end: int
    filename: str | None
    charset: str | None
    transfer_encoding: str | None
    disposition: str | None
    is_attachment: bool
    message_header_end: int | None = None
    message_body_end: int | None = None
    message_content_type: str | None = None


@dataclass(frozen=True, slots=True)
class MimeMessage:
    """A message's MIME structure, parsed once at delivery.

    `envelope`, `body` and `bodystructure` are the exact IMAP texts (parentheses included) that
    follow "ENVELOPE ", "BODY " and "BODYSTRUCTURE " in a FETCH response. They may contain
    literals `{n}\\r\\n...` whose n counts bytes: send them as `text.encode("utf-8",
    "surrogateescape")` (see `imap_bytes`), which gives back the message's own bytes.

    `content_type` is the top-level entity's type; when it is a multipart, that entity has no
    section number of its own and is not in `parts`.

    `text` is the first plain text part ("" without one) and `html` the first HTML part, decoded.
    """

    header_end: int
    content_type: str
    subject: str | None
    from_: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    date_header: str | None
    message_id: str | None
    envelope: str
    body: str
    bodystructure: str
    parts: tuple[PartInfo, ...]
    text: str
    html: str | None
    has_attachments: bool
