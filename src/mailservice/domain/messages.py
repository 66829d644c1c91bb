"""Stored messages and folders, and what delivery hands to the store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from mailservice.domain.sender_auth import SenderAuth

INBOX = "INBOX"
# IMAP names messages by 32-bit unsigned uids (RFC 3501 nz-number); no uid the store hands out is larger.
MAX_UID = 2**32 - 1


@dataclass(frozen=True)
class SortKeys:
    """What IMAP SORT orders a message by (RFC 5256, RFC 5957), computed at delivery: the base subject,
    the first From/To/Cc mailbox and display names, already in their compared form, and the Date
    header's moment (None: missing or unreadable, then the internal date stands in)."""

    subject: str
    sent: datetime | None
    from_: str
    to: str
    cc: str
    display_from: str
    display_to: str


@dataclass(frozen=True)
class ParsedMessage:
    """A message parsed once at delivery (MIME structure, IMAP texts, text, codes, links).

    Reading never parses the raw message again.
    """

    size: int
    header_end: int
    subject: str | None
    from_address: str | None
    from_name: str | None
    to: tuple[tuple[str | None, str], ...]
    cc: tuple[tuple[str | None, str], ...]
    date: datetime | None
    message_id: str | None
    envelope: str
    body: str
    bodystructure: str
    parts_json: str
    text: str
    has_attachments: bool
    codes: tuple[ExtractedCode, ...] = ()
    links: tuple[ExtractedLink, ...] = ()
    preview: str = ""  # the start of the safe text view, links as [n]
    sort_keys: SortKeys | None = None


@dataclass(frozen=True)
class MessageCopy:
    """One mailbox's copy of a message: its own raw bytes (with its Delivered-To), parsed."""

    mailbox_id: str
    raw: bytes
    parsed: ParsedMessage
    internal_date: datetime
    tags: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    folder: str = INBOX
    envelope_from: str | None = None
    auth: SenderAuth | None = None


@dataclass(frozen=True)
class Delivery:
    """Copies stored together or not at all. A delivery creates the folders it is for (INBOX of a
    mailbox that has none yet); one `into_existing_folders` (an IMAP APPEND) is refused with
    `FolderNotFound` instead."""

    copies: tuple[MessageCopy, ...]
    into_existing_folders: bool = False


@dataclass(frozen=True)
class StoredCopy:
    mailbox_id: str
    folder_id: int
    uid: int
    modseq: int
    size: int
    uidvalidity: int
    """The folder's UIDVALIDITY when the copy was stored (APPENDUID)."""


@dataclass(frozen=True)
class MessageReceived:
    """The event every delivery publishes."""

    mailbox_id: str
    folder_id: int
    uid: int
    modseq: int
    type: str = field(default="message.received")


@dataclass(frozen=True)
class FolderChanged:
    """Flags changed or messages were removed (or moved) in a folder."""

    mailbox_id: str
    folder_id: int
    modseq: int
    type: str = field(default="folder.changed")


@dataclass(frozen=True)
class AccessRevoked:
    """The mailbox's credentials were rotated or it stopped being usable: its open sessions end."""

    mailbox_id: str
    type: str = field(default="mailbox.access_revoked")


@dataclass(frozen=True)
class EventLogged:
    """The mailbox's event log has new entries besides new mail (`mailbox.expiring` and the like): event
    streams read it again."""

    mailbox_id: str
    type: str = field(default="event_log.appended")


MailboxEvent = MessageReceived | FolderChanged | AccessRevoked | EventLogged


@dataclass(frozen=True)
class Resync:
    """Not an event of the mailbox but of this node: events may have been missed (the event bus lost its
    connection and is back, or a publish failed), so whatever a subscriber waits for, it looks in the store
    again. Never published; each subscription of the node receives its own."""

    mailbox_id: str
    type: str = field(default="events.resync")


Signal = MailboxEvent | Resync
"""What a subscription yields: the mailbox's events, and a resync when some may have been lost."""


@dataclass(frozen=True)
class ExtractedCode:
    """A likely verification code, with the phrase around it, best first."""

    code: str
    score: float
    context: str
    source: str


@dataclass(frozen=True)
class ExtractedLink:
    url: str
    text: str
    kind: str


@dataclass(frozen=True)
class StoredMessage:
    """A message as the read API sees it: what was parsed at delivery, never the raw bytes."""

    uid: int
    flags: frozenset[str]
    internal_date: datetime
    size: int
    subject: str | None
    from_address: str | None
    from_name: str | None
    to: tuple[tuple[str | None, str], ...]
    cc: tuple[tuple[str | None, str], ...]
    date: datetime | None
    message_id: str | None
    has_attachments: bool
    tags: tuple[str, ...]
    codes: tuple[ExtractedCode, ...]
    links: tuple[ExtractedLink, ...]
    parts_json: str
    text: str | None = None
    envelope_from: str | None = None
    auth: SenderAuth | None = None

    @property
    def verified_domain(self) -> str | None:
        return self.auth.verified_domain if self.auth is not None else None

    @property
    def seen(self) -> bool:
        return SEEN in self.flags

    @property
    def flagged(self) -> bool:
        return FLAGGED in self.flags


SEEN = "\\Seen"
RECENT = "\\Recent"
"""Never stored: which messages are recent belongs to each IMAP session."""
DELETED = "\\Deleted"
FLAGGED = "\\Flagged"


def is_keyword(flag: str) -> bool:
    """A keyword, not one of the system flags (which start with a backslash)."""
    return not flag.startswith("\\")


def keywords_in(flag_sets: Iterable[frozenset[str]]) -> frozenset[str]:
    """The keywords among sets of flags. Give each distinct set once: a folder's messages share few
    (the store hands out one frozenset per flags text)."""
    return frozenset(flag for flags in flag_sets for flag in flags if is_keyword(flag))
