"""UTF8=ACCEPT (RFC 6855): after ENABLE, mailbox names are UTF-8 both ways, quoted strings may be UTF-8
and APPEND takes `UTF8 (~{n})`. Dovecot 2.3 does not offer it (ENABLE answers no ENABLED line), so
these follow the RFC; a session that does not enable it keeps modified UTF-7."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailservice.mime.imap_string import quoted
from mailservice.protocols.imap.commands import MailboxArg, parse_command
from mailservice.protocols.imap.parse_error import ParseError
from tests.support.imap_wire import ADDRESS, PASSWORD, RunningImap, Wire, running_imap
from tests.support.memory_mail_session import MemoryMailLogin

MESSAGE = "From: a@example.org\r\nSubject: Grüße aus Köln\r\n\r\nbody\r\n".encode()


@pytest.fixture
async def imap() -> AsyncIterator[RunningImap]:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD, quota_bytes=100_000)
    store.deliver(MESSAGE)
    async with running_imap(login) as running:
        yield running


async def logged_in(imap: RunningImap, enable: bool) -> Wire:
    wire = await Wire.connect(imap)
    await wire.login()
    if enable:
        assert await wire.command(b"ENABLE UTF8=ACCEPT") == [
            b"* ENABLED UTF8=ACCEPT\r\n",
            b"t OK Enabled.\r\n",
        ]
    return wire


async def test_utf8_accept_is_advertised_and_enabled(imap: RunningImap) -> None:
    wire = await logged_in(imap, enable=False)
    capability = await wire.command(b"CAPABILITY")
    assert b" UTF8=ACCEPT" in capability[0]
    await wire.close()


async def test_names_are_utf8_after_enable_and_modified_utf7_for_other_sessions(imap: RunningImap) -> None:
    utf8, legacy = await logged_in(imap, enable=True), await logged_in(imap, enable=False)

    await utf8.command('CREATE "Grüße"'.encode())
    created = await utf8.command('CREATE "Grüße/Käse"'.encode())
    listed = await utf8.command(b'LIST "" "Gr*"')
    seen_by_legacy = await legacy.command(b'LIST "" "Gr*"')
    status = await utf8.command('STATUS "Grüße/Käse" (MESSAGES)'.encode())

    assert created[-1].startswith(b"t OK")
    assert listed[:2] == [
        '* LIST (\\HasChildren) "/" "Grüße"\r\n'.encode(),
        '* LIST (\\HasNoChildren) "/" "Grüße/Käse"\r\n'.encode(),
    ]
    assert seen_by_legacy[:2] == [
        b'* LIST (\\HasChildren) "/" "Gr&APwA3w-e"\r\n',
        b'* LIST (\\HasNoChildren) "/" "Gr&APwA3w-e/K&AOQ-se"\r\n',
    ]
    assert status[0] == '* STATUS "Grüße/Käse" (MESSAGES 0)\r\n'.encode()
    assert (await legacy.command('CREATE "Käse"'.encode()))[-1].startswith(b"t NO [CANNOT]")
    await utf8.close()
    await legacy.close()


async def test_append_takes_utf8_data_and_search_takes_utf8_strings(imap: RunningImap) -> None:
    wire = await logged_in(imap, enable=True)
    wire.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n" % len(MESSAGE) + MESSAGE + b")\r\n")
    appended = await wire.until(b"a")
    await wire.command(b"SELECT INBOX")

    found = await wire.command('SEARCH SUBJECT "Köln"'.encode())

    assert appended[-1].startswith(b"a OK [APPENDUID ")
    assert found[0] == b"* SEARCH 1 2\r\n"
    await wire.close()


names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30)


@given(names)
def test_any_utf8_name_is_read_back_as_sent_after_enable(name: str) -> None:
    command = parse_command(b"c CREATE " + quoted(name.encode()), utf8=True)

    assert isinstance(command.args, MailboxArg)
    expected = "INBOX" + name[5:] if name[:5].upper() == "INBOX" and name[5:6] in ("", "/") else name
    assert command.args.mailbox == expected


@given(names.filter(lambda name: not name.isascii()))
def test_a_non_ascii_name_is_refused_without_enable(name: str) -> None:
    with pytest.raises(ParseError):
        parse_command(b"c CREATE " + quoted(name.encode()))
