"""MIME parsing done once at delivery, so that IMAP FETCH can be answered by slicing the raw bytes.

`parse_mime(raw)` gives a `MimeMessage`: ENVELOPE, BODY and BODYSTRUCTURE texts as Dovecot 2.3
writes them, every part with its section number and offsets, decoded subject, addresses, date, and
the decoded plain and HTML text parts. `section_bytes(raw, parsed, section)` answers BODY[section].

Deliberate differences from Dovecot 2.3.19 (found by comparing FETCH answers):
- Sizes and offsets are those of the stored bytes. Dovecot shows a message with bare LF line ends
  as if they were CRLF (sizes grow by one per bare LF, and BODY[] has CRLF); here such a message is
  served as stored, consistently with its BODYSTRUCTURE sizes. Store messages with CRLF line ends
  to get Dovecot's numbers.
- A section that does not exist gives None from `section_bytes`; Dovecot sends an empty string.
- Dovecot's own answers are not always the same: after it has cached a message that is only 7-bit
  US-ASCII text/plain, it answers BODY/BODYSTRUCTURE in lowercase whatever the header said; this
  always gives its first answer, which keeps the header's case.

Dovecot's limits are reproduced: 100 levels of nesting (deeper multiparts and messages become
application/octet-stream) and 10000 parts (the last one runs to the end of the message).
"""

from __future__ import annotations

from .imap_string import imap_bytes
from .message import parse_mime
from .parsed import Address, MimeMessage, PartInfo
from .sections import section_bytes

__all__ = [
    "Address",
    "MimeMessage",
    "PartInfo",
    "imap_bytes",
    "parse_mime",
    "section_bytes",
]
