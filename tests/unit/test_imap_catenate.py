"""CATENATE (RFC 4469) where it is this server's own choice and cannot be compared with Dovecot
(tests/interop/test_extensions_vs_dovecot.py compares the rest): absolute URLs of this server and
user, the right UIDVALIDITY, TOOBIG, PARTIAL ranges over CRLF line ends, and the URL parser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.protocols.imap.imap_urls import BadUrl, ImapUrl, imap_url_text, parse_imap_url
from tests.support.imap_wire import ADDRESS, PASSWORD, RunningImap, Wire, running_imap
from tests.support.memory_mail_session import MemoryMailLogin

SOURCE = b"Subject: source\r\n\r\nline one\r\nline two\r\n"
HOSTNAME = "imap.agents.test"


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    login = MemoryMailLogin()
    login.add_mailbox(ADDRESS, PASSWORD).deliver(SOURCE)
    async with running_imap(login, hostname=HOSTNAME, max_literal_bytes=200) as imap:
        connection = await logged_in(imap)
        yield connection
        await connection.close()


async def logged_in(imap: RunningImap) -> Wire:
    connection = await Wire.connect(imap)
    await connection.login()
    return connection


async def stored(wire: Wire, uid: int) -> bytes:
    await wire.command(b"EXAMINE INBOX")
    fetched = await wire.command(b"UID FETCH %d (BODY.PEEK[])" % uid)
    found = re.search(rb"\{(\d+)\}\r\n", fetched[0])
    assert found is not None, fetched
    return fetched[0][found.end() : found.end() + int(found.group(1))]


async def test_absolute_url_of_this_server_and_user_is_read(wire: Wire) -> None:
    url = f"imap://{ADDRESS.replace('@', '%40')}@{HOSTNAME.upper()}:143/INBOX/;UID=1/;SECTION=TEXT"

    reply = await wire.command(f'APPEND INBOX CATENATE (URL "{url}")'.encode())

    assert reply[-1].startswith(b"t OK [APPENDUID "), reply
    assert await stored(wire, 2) == b"line one\r\nline two\r\n"


@pytest.mark.parametrize(
    "url",
    [
        f"imap://other%40agents.test@{HOSTNAME}/INBOX/;UID=1",
        f"imap://{ADDRESS.replace('@', '%40')}@elsewhere.test/INBOX/;UID=1",
        f"imap://{HOSTNAME}/INBOX/;UID=1",
        "/INBOX/;UID=1/;SECTION=1.FOO",
        "/INBOX/;UID=1]\r\nx",
    ],
)
async def test_url_of_another_server_or_user_or_a_bad_section_is_badurl(wire: Wire, url: str) -> None:
    reply = await wire.command(b"APPEND INBOX CATENATE (URL {%d+}\r\n%s)" % (len(url), url.encode()))

    echoed = url.replace("]", "%5D").replace("\r", "%0D").replace("\n", "%0A")
    assert reply == [f"t NO [BADURL {echoed}] ".encode() + reply[-1].split(b"] ", 1)[1]]


async def test_right_uidvalidity_is_accepted(wire: Wire) -> None:
    status = await wire.command(b"STATUS INBOX (UIDVALIDITY)")
    uidvalidity = int(re.findall(rb"UIDVALIDITY (\d+)", status[0])[0])

    reply = await wire.command(b'APPEND INBOX CATENATE (URL "/INBOX;UIDVALIDITY=%d/;UID=1")' % uidvalidity)

    assert reply[-1].startswith(b"t OK [APPENDUID "), reply
    assert await stored(wire, 2) == SOURCE


async def test_partial_counts_the_stored_bytes_crlf_included(wire: Wire) -> None:
    reply = await wire.command(b'APPEND INBOX CATENATE (URL "/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=7.6")')

    assert reply[-1].startswith(b"t OK"), reply
    assert await stored(wire, 2) == b"e\r\nlin"


async def test_result_over_the_message_size_is_toobig_and_nothing_is_stored(wire: Wire) -> None:
    parts = b" ".join([b'URL "/INBOX/;UID=1"'] * 6)

    reply = await wire.command(b"APPEND INBOX (\\Seen) CATENATE (%s) CATENATE (TEXT {1+}\r\nx)" % parts)
    status = await wire.command(b"STATUS INBOX (MESSAGES)")

    assert reply[-1].startswith(b"t NO [TOOBIG] "), reply
    assert status[0] == b'* STATUS "INBOX" (MESSAGES 1)\r\n'


@pytest.mark.parametrize(
    "command",
    [b'APPEND INBOX CATENATE (URL "/INBOX/;UID=1" FOO "x")', b'APPEND INBOX CATENATE (TEXT "x")'],
)
async def test_unknown_part_or_quoted_text_is_bad(wire: Wire, command: bytes) -> None:
    reply = await wire.command(command)

    assert reply[-1].startswith(b"t BAD "), reply


_MAILBOXES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
_SECTIONS = st.sampled_from(["", "1", "1.2.MIME", "HEADER", "2.TEXT", "HEADER.FIELDS (Subject To)"])
_NUMBERS = st.integers(min_value=1, max_value=2**32 - 1)
_HOSTS = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?", fullmatch=True)


@st.composite
def imap_urls(draw: st.DrawFn) -> ImapUrl:
    host = draw(st.none() | _HOSTS)
    partial = draw(st.none() | st.tuples(st.integers(0, 2**32 - 1), st.none() | _NUMBERS))
    mailbox = draw(_MAILBOXES) if host is not None else draw(st.none() | _MAILBOXES)
    return ImapUrl(
        mailbox=mailbox,
        uid=draw(_NUMBERS),
        uidvalidity=draw(st.none() | _NUMBERS) if mailbox is not None else None,
        section=draw(_SECTIONS),
        partial=partial,
        user=draw(st.text(min_size=1, max_size=12)) if host is not None else None,
        host=host,
        port=draw(st.none() | st.integers(1, 65535)) if host is not None else None,
    )


@given(imap_urls())
def test_url_parser_reads_back_every_url_it_writes(url: ImapUrl) -> None:
    assert parse_imap_url(imap_url_text(url)) == url


@given(st.text(max_size=60))
def test_url_parser_refuses_text_with_badurl_only(text: str) -> None:
    try:
        parsed = parse_imap_url(text)
    except BadUrl:
        return
    assert parsed.uid > 0 and ";UID=" in text.upper()


@given(imap_urls(), st.sampled_from([";URLAUTH=anonymous", "/;PARTIAL=0.0", "/;SECTION=%FF", "?ALL"]))
def test_url_parser_refuses_what_catenate_cannot_use(url: ImapUrl, suffix: str) -> None:
    with pytest.raises(BadUrl):
        parse_imap_url(imap_url_text(ImapUrl(url.mailbox, url.uid, url.uidvalidity)) + suffix)
