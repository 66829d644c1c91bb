"""CATENATE (RFC 4469): a message built from text the client sends and parts of stored messages named
by IMAP URLs (`imap_urls.py`) of this server and user, in any folder of the mailbox.

A URL that cannot be resolved is answered `NO [BADURL url]` (a missing message or part of a message
is empty, as in Dovecot); a result over the server's message size `NO [TOOBIG]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailservice.domain.errors import FolderNotFound
from mailservice.domain.mail_session import MessageStructure, NewMessage, StructureItem
from mailservice.protocols.imap.client import Client
from mailservice.protocols.imap.commands import CatenatedMessage, TextPart
from mailservice.protocols.imap.fetch_items import parse_body_section
from mailservice.protocols.imap.fetch_response import section_content
from mailservice.protocols.imap.imap_urls import BadUrl, ImapUrl, parse_imap_url
from mailservice.protocols.imap.mailbox_names import decode_name
from mailservice.protocols.imap.parse_error import ParseError
from mailservice.protocols.imap.replies import CommandFailed

_SECTIONS = frozenset({StructureItem.SECTIONS})


@dataclass(frozen=True)
class _Stored:
    raw: bytes
    structure: MessageStructure | None
    header: bytes | None = None


async def catenated_message(client: Client, message: CatenatedMessage) -> NewMessage:
    limit = client.options.max_literal_bytes
    pieces: list[bytes] = []
    size = 0
    for part in message.parts:
        piece = part.data if isinstance(part, TextPart) else await _url_content(client, part.url)
        size += len(piece)
        if size > limit:
            raise CommandFailed("Message is too large.", "TOOBIG")
        pieces.append(piece)
    return NewMessage(b"".join(pieces), message.flags, message.internal_date)


async def _url_content(client: Client, text: str) -> bytes:
    try:
        return await _resolved(client, parse_imap_url(text))
    except BadUrl as error:
        raise CommandFailed(error.reason, f"BADURL {_echoed(text)}") from None


async def _resolved(client: Client, url: ImapUrl) -> bytes:
    _require_this_user(client, url)
    folder_id, uidvalidity = await _folder(client, url.mailbox)
    if url.uidvalidity is not None and url.uidvalidity != uidvalidity:
        raise BadUrl("Invalid UIDVALIDITY")
    session = client.state.mail()
    raw = (await session.raw(folder_id, [url.uid])).get(url.uid)
    if raw is None:
        raise BadUrl("Message not found")
    content = raw if not url.section else await _section(client, folder_id, url, raw)
    if url.partial is None:
        return content
    offset, length = url.partial
    return content[offset:] if length is None else content[offset : offset + length]


def _require_this_user(client: Client, url: ImapUrl) -> None:
    """An absolute URL must name this server (its hostname) and the user logged in on it."""
    if url.host is None:
        return
    same_host = url.host.lower() == client.options.hostname.lower()
    same_user = url.user is not None and url.user.lower() == (client.state.username or "").lower()
    if not (same_host and same_user):
        raise BadUrl("IMAP URL refers to another server or user")


async def _folder(client: Client, mailbox: str | None) -> tuple[int, int]:
    """(folder id, UIDVALIDITY) of the URL's folder, the selected one when it names none."""
    if mailbox is None:
        view = client.state.view
        if view is None:
            raise BadUrl("Mailbox-relative IMAP URL, but no mailbox selected")
        return view.folder_id, view.uidvalidity
    try:
        name = decode_name(mailbox.encode("utf-8"), "*", utf8=True)
        status = await client.state.mail().status(name)
    except ParseError:
        raise BadUrl("Invalid mailbox name") from None
    except FolderNotFound:
        raise BadUrl(f"Mailbox doesn't exist: {mailbox}") from None
    return status.folder_id, status.uidvalidity


async def _section(client: Client, folder_id: int, url: ImapUrl, raw: bytes) -> bytes:
    try:
        item = parse_body_section(url.section.encode("utf-8"))
    except ParseError:
        raise BadUrl("Invalid IMAP URL: invalid section") from None
    structures = await client.state.mail().structures(folder_id, [url.uid], _SECTIONS)
    if not structures:
        raise BadUrl("Message not found")
    return section_content(item, _Stored(raw, structures[0])) or b""


def _echoed(text: str) -> str:
    """The URL as the response code repeats it: nothing that could end the code or the line."""
    return "".join(f"%{ord(char):02X}" if char in "]\r\n" or ord(char) < 0x20 else char for char in text)
