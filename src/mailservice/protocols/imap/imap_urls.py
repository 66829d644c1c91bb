"""IMAP URLs naming a message or a part of one (RFC 5092 `imessagepart`, RFC 5550's `;PARTIAL=`), as
CATENATE (RFC 4469) takes them.

Three forms are read: an absolute URL `imap://user@host[:port]/mailbox[;UIDVALIDITY=v]/;UID=n
[/;SECTION=s][/;PARTIAL=o[.l]]`, the same from `/mailbox...` on (relative to this server and user),
and `;UID=n...` (relative to the selected mailbox). Mailbox names and sections are percent-encoded
UTF-8. Anything else (URLAUTH, a search, an empty mailbox) is `BadUrl`; whether the server and user
are this connection's is for the caller to decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from mailservice.protocols.imap.command_reader import MAX_NUMBER


class BadUrl(Exception):
    """The URL is not one this server can resolve; `reason` says why (answered `NO [BADURL url]`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImapUrl:
    """`mailbox` None: the selected mailbox. `user` and `host` only in an absolute URL."""

    mailbox: str | None
    uid: int
    uidvalidity: int | None = None
    section: str = ""
    partial: tuple[int, int | None] | None = None
    user: str | None = None
    host: str | None = None
    port: int | None = None


_PCT = r"(?:%[0-9A-Fa-f]{2})"
_BCHAR = rf"(?:[A-Za-z0-9\-._~!$'()*+,&=:@/]|{_PCT})"
_SERVER = re.compile(
    rf"imap://(?:(?P<user>(?:[A-Za-z0-9\-._~!$'()*+,&=]|{_PCT})+)@)?"
    rf"(?P<host>\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$'()*+,&=]|{_PCT})+)(?::(?P<port>[0-9]{{1,5}}))?(?=/)",
    re.IGNORECASE,
)
_MAILBOX = re.compile(
    rf"/(?P<mailbox>{_BCHAR}+?)(?:;UIDVALIDITY=(?P<uidvalidity>[0-9]+))?/(?=;UID=)", re.IGNORECASE
)
_MESSAGE = re.compile(
    rf";UID=(?P<uid>[0-9]+)(?:/;SECTION=(?P<section>{_BCHAR}+))?"
    r"(?:/;PARTIAL=(?P<offset>[0-9]+)(?:\.(?P<length>[0-9]+))?)?\Z",
    re.IGNORECASE,
)
_SECTION_SAFE = "!$'()*+,&=:@"


def parse_imap_url(text: str) -> ImapUrl:
    """The message part `text` names; `BadUrl` if it is not a message-part IMAP URL."""
    position, user, host, port = _server(text)
    mailbox, uidvalidity = None, None
    found = _MAILBOX.match(text, position)
    if found is not None:
        mailbox = _decoded(found.group("mailbox"), "mailbox name")
        uidvalidity = _number(found.group("uidvalidity"), "UIDVALIDITY")
        position = found.end()
    elif text.startswith("/;", position):
        raise BadUrl("Mailbox-relative IMAP URL, but no mailbox selected")
    elif host is not None or text.startswith("/", position):
        raise BadUrl("Invalid IMAP URL: invalid mailbox reference")
    message = _MESSAGE.match(text, position)
    if message is None:
        raise BadUrl("Invalid IMAP URL: not a message part")
    section = message.group("section")
    return ImapUrl(
        mailbox=mailbox,
        uid=_uid(message.group("uid")),
        uidvalidity=uidvalidity,
        section="" if section is None else _decoded(section, "section"),
        partial=_partial(message.group("offset"), message.group("length")),
        user=None if user is None else _decoded(user, "user"),
        host=None if host is None else _decoded(host, "host"),
        port=None if port is None else int(port),
    )


def imap_url_text(url: ImapUrl) -> str:
    """The URL of `url`'s fields: absolute when it has a host, else from the mailbox (or `;UID=`)."""
    text = ""
    if url.host is not None:
        user = "" if url.user is None else quote(url.user, safe="") + "@"
        port = "" if url.port is None else f":{url.port}"
        text = f"imap://{user}{url.host}{port}"
    if url.mailbox is not None:
        validity = "" if url.uidvalidity is None else f";UIDVALIDITY={url.uidvalidity}"
        text += f"/{quote(url.mailbox, safe=_SECTION_SAFE + '/')}{validity}/"
    text += f";UID={url.uid}"
    if url.section:
        text += f"/;SECTION={quote(url.section, safe=_SECTION_SAFE)}"
    if url.partial is not None:
        offset, length = url.partial
        text += f"/;PARTIAL={offset}" + ("" if length is None else f".{length}")
    return text


def _server(text: str) -> tuple[int, str | None, str | None, str | None]:
    if not text[:7].lower().startswith("imap://"):
        return 0, None, None, None
    found = _SERVER.match(text)
    if found is None:
        raise BadUrl("Invalid IMAP URL: invalid server")
    return found.end(), found.group("user"), found.group("host"), found.group("port")


def _decoded(text: str, what: str) -> str:
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise BadUrl(f"Invalid IMAP URL: {what} is not UTF-8") from None


def _uid(text: str) -> int:
    value = _number(text, "UID")
    assert value is not None
    return value


def _number(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    value = int(text)
    if not 0 < value <= MAX_NUMBER:
        raise BadUrl(f"Invalid IMAP URL: invalid {what}")
    return value


def _partial(offset: str | None, length: str | None) -> tuple[int, int | None] | None:
    if offset is None:
        return None
    start = int(offset)
    if start > MAX_NUMBER:
        raise BadUrl("Invalid IMAP URL: invalid PARTIAL offset")
    if length is None:
        return start, None
    size = int(length)
    if not 0 < size <= MAX_NUMBER:
        raise BadUrl("Invalid IMAP URL: PARTIAL size cannot be zero")
    return start, size
