"""Messages loaded byte for byte into both IMAP servers: the shapes that make MIME servers disagree.

Each has its own internal date and flags, so that SEARCH by date and by flag has something to
tell apart. The structured ones are the same bytes the MIME unit tests pin to Dovecot's answers.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

from tests.support.dovecot import StoredMessage
from tests.unit.test_mime_bodystructure import ALTERNATIVE, MIXED, NESTED, SIMPLE
from tests.unit.test_mime_sections import NESTED_MULTIPART, TOP_RFC822


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


ENCODED_WORDS = crlf(
    'From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <jm@example.de>\nTo: "Doe, Jane" <jane@example.com>, '
    "=?iso-8859-1?q?Andr=E9?= <andre@example.fr>\nCc: team: a@example.com, b@example.com;\n"
    "Subject: =?utf-8?q?R=C3=A9union_du_lundi?= =?utf-8?b?4oCUIG5vdGVz?=\n"
    "Date: Mon, 2 Feb 2026 09:15:00 +0100\nMessage-ID: <enc1@example.de>\nIn-Reply-To: <prev@example.de>\n"
    "Reply-To: replies@example.de\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n\nBonjour =C3=A0 tous, ordre du jour ci-dessous.\n"
)
EIGHT_BIT = (
    "From: Zoë <zoe@example.org>\r\nTo: agent@agents.test\r\nSubject: Grüße aus Köln\r\n"
    "Date: Tue, 3 Feb 2026 18:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Schöne Grüße, der Bestätigungscode lautet 482913.\r\nÄÖÜ äöü ß — €\r\n"
).encode()
ATTACHMENT = crlf(
    "From: billing@shop.example\nTo: agent@agents.test\nSubject: Your invoice 2026-0042\n"
    "Date: Wed, 4 Feb 2026 07:30:00 -0500\nMessage-ID: <inv42@shop.example>\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="==inv=="\n\n'
    "--==inv==\nContent-Type: multipart/alternative; boundary=alt\n\n"
    "--alt\nContent-Type: text/plain; charset=us-ascii\n\nInvoice attached. Total 42.00 EUR.\n"
    "--alt\nContent-Type: text/html; charset=us-ascii\n\n<p>Invoice attached. <b>Total 42.00 EUR</b>.</p>\n"
    "--alt--\n\n--==inv==\n"
    'Content-Type: application/pdf; name="invoice.pdf"\n'
    'Content-Disposition: attachment; filename="invoice.pdf"\nContent-Transfer-Encoding: base64\n\n'
    + base64.encodebytes(b"%PDF-1.4\n" + bytes(range(256)) * 3).decode()
    + "--==inv==\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n"
    "Content-ID: <logo@shop>\nContent-Disposition: inline\n\n"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n"
    "--==inv==--\n"
)
MALFORMED = crlf(
    "From: broken@example.net\nSubject: broken mime\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="never-closed"\n\n'
    "--never-closed\nContent-Type: text/plain; charset=\n\nfirst part\n"
    "--never-closed\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: bogus\n\n<p>second"
)
NO_HEADERS_OF_NOTE = crlf("X-Only: a header nobody reads\n\nA body with no From, To, Subject or Date.\n")
LONG_HEADERS = crlf(
    "From: long@example.com\nTo: "
    + ", ".join(f"recipient{i:03d}@example.com" for i in range(40))
    + "\nSubject: "
    + "a very long subject line that keeps going " * 12
    + "\nX-Folded: first part\n\tsecond part\n  third part\n"
    "References: " + " ".join(f"<ref{i}@example.com>" for i in range(30)) + "\n"
    "Date: Thu, 5 Feb 2026 12:00:00 +0000\n\nShort body.\n"
)
BARE_LF = (
    b"From: lf@example.com\nSubject: bare line feeds\n"
    b"Date: Fri, 6 Feb 2026 08:00:00 +0000\n\nline one\nline two\n"
)
QUOTED_ADDRESSES = crlf(
    'From: "Smith, John (Sales)" <"john.smith"@example.com>\nSender: bounce+x=y@lists.example.com\n'
    'To: undisclosed-recipients:;\nBcc: hidden@example.com\nSubject: Re: [list] Fwd: quoted "words"\n'
    "Date: Sat, 7 Feb 2026 23:59:59 +1400\nMessage-ID: <quoted@example.com>\n\nbody text with BODY words\n"
)

UPPER_CASE_TYPE = crlf(
    "From: shout@example.com\nSubject: upper case type\nMIME-Version: 1.0\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\nhello\n"
)

NUL_BYTES = crlf(
    "From: nul@example.com\nSubject: a NUL in a binary part\nDate: Sun, 8 Feb 2026 10:00:00 +0000\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n"
    "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\nX\x00Y\n--b--\n"
)
QUOTED_PRINTABLE_PADDING = crlf(
    "From: qp@example.com\nSubject: transport padding\nDate: Mon, 9 Feb 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n"
    "Content-Transfer-Encoding: quoted-printable\n\ntrailing spaces   \nsoft break with padding= \n"
    "continues =3D here\t\nend\n--b--\n"
)

COMMENTED_ADDRESS = crlf(
    "From: <user-from (comment)@ (comment) domain.org>\nTo: agent@agents.test\nSubject: comments\n"
    "Date: Tue, 10 Feb 2026 10:00:00 +0000\n\nan address with comments inside\n"
)

_BASE = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
_MINUS_5 = timezone(timedelta(hours=-5))


def _day(days: int, tz: timezone = UTC) -> datetime:
    return (_BASE + timedelta(days=days)).astimezone(tz)


CORPUS: tuple[StoredMessage, ...] = (
    StoredMessage(SIMPLE, _day(0), ("\\Seen",)),
    StoredMessage(ALTERNATIVE, _day(1), ()),
    StoredMessage(MIXED, _day(2), ("\\Flagged",)),
    StoredMessage(NESTED, _day(3), ("\\Seen", "\\Answered")),
    StoredMessage(NESTED_MULTIPART, _day(4), ("$Important",)),
    StoredMessage(TOP_RFC822, _day(5), ("\\Draft",)),
    StoredMessage(ENCODED_WORDS, _day(6, _MINUS_5), ("\\Seen",)),
    StoredMessage(EIGHT_BIT, _day(7), ()),
    StoredMessage(ATTACHMENT, _day(8), ("\\Seen", "\\Flagged")),
    StoredMessage(MALFORMED, _day(9), ()),
    StoredMessage(NO_HEADERS_OF_NOTE, _day(10), ("\\Deleted",)),
    StoredMessage(LONG_HEADERS, _day(11), ()),
    StoredMessage(BARE_LF, _day(12), ("\\Seen",)),
    StoredMessage(QUOTED_ADDRESSES, _day(13), ("$Important", "\\Seen")),
    StoredMessage(UPPER_CASE_TYPE, _day(14), ()),
    StoredMessage(NUL_BYTES, _day(15), ()),
    StoredMessage(QUOTED_PRINTABLE_PADDING, _day(16), ()),
    StoredMessage(COMMENTED_ADDRESS, _day(17), ()),
)


def number_of(raw: bytes) -> int:
    """The sequence number `raw` gets when CORPUS is loaded into an empty folder."""
    return 1 + next(i for i, message in enumerate(CORPUS) if message.raw is raw)
