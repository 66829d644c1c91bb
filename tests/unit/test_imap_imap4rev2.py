"""IMAP4rev2 (RFC 9051) where Dovecot 2.3 cannot be compared (it has no IMAP4rev2; the rest is in
tests/interop/test_extensions_vs_dovecot.py): the capability, UTF-8 names, STATUS DELETED and STATUS
RECENT, and \\Recent left to IMAP4rev1 sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mailservice.protocols.imap.commands import parse_command
from mailservice.protocols.imap.parse_error import ParseError
from tests.support.imap_wire import ADDRESS, PASSWORD, RunningImap, Wire, running_imap
from tests.support.memory_mail_session import MemoryMailLogin, MemoryMailStore

MESSAGE = b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n"


@pytest.fixture
async def served() -> AsyncIterator[tuple[RunningImap, MemoryMailStore]]:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD)
    async with running_imap(login) as running:
        yield running, store


async def logged_in(imap: RunningImap, rev2: bool) -> Wire:
    wire = await Wire.connect(imap)
    await wire.login()
    if rev2:
        assert await wire.command(b"ENABLE IMAP4rev2") == [b"* ENABLED IMAP4rev2\r\n", b"t OK Enabled.\r\n"]
    return wire


async def test_imap4rev2_is_advertised_beside_imap4rev1_from_the_greeting(
    served: tuple[RunningImap, MemoryMailStore],
) -> None:
    wire = await Wire.connect(served[0])

    capability = await wire.command(b"CAPABILITY")

    assert wire.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    assert capability[0].startswith(b"* CAPABILITY IMAP4rev1 IMAP4rev2 ")
    await wire.close()


async def test_status_deleted_counts_deleted_messages_and_recent_is_bad_in_imap4rev2(
    served: tuple[RunningImap, MemoryMailStore],
) -> None:
    imap, store = served
    for flags in (frozenset({"\\Deleted"}), frozenset({"\\Deleted", "\\Seen"}), frozenset()):
        store.deliver(MESSAGE, flags=flags)
    rev1, rev2 = await logged_in(imap, rev2=False), await logged_in(imap, rev2=True)

    rev1_status = await rev1.command(b"STATUS INBOX (DELETED RECENT MESSAGES)")
    rev2_status = await rev2.command(b"STATUS INBOX (DELETED MESSAGES SIZE)")
    rev2_recent = await rev2.command(b"STATUS INBOX (RECENT)")
    rev2_list_status = await rev2.command(b'LIST "" INBOX RETURN (STATUS (RECENT))')

    assert rev1_status[0] == b'* STATUS "INBOX" (MESSAGES 3 RECENT 3 DELETED 2)\r\n'
    assert rev2_status[0] == b'* STATUS "INBOX" (MESSAGES 3 DELETED 2 SIZE %d)\r\n' % (3 * len(MESSAGE))
    assert rev2_recent == [b"t BAD STATUS RECENT is not part of IMAP4rev2\r\n"]
    assert rev2_list_status[-1].startswith(b"t BAD ")
    await rev1.close()
    await rev2.close()


async def test_imap4rev2_session_takes_no_message_as_recent_so_an_imap4rev1_session_still_does(
    served: tuple[RunningImap, MemoryMailStore],
) -> None:
    imap, store = served
    store.deliver(MESSAGE)
    rev2 = await logged_in(imap, rev2=True)
    await rev2.command(b"SELECT INBOX")
    store.deliver(MESSAGE)
    rev2_noop = await rev2.command(b"NOOP")
    rev2_flags = await rev2.command(b"FETCH 1:* (FLAGS)")
    rev1 = await logged_in(imap, rev2=False)

    rev1_select = await rev1.command(b"SELECT INBOX")

    assert rev2_noop == [b"* 2 EXISTS\r\n", b"t OK Noop completed.\r\n"]
    assert rev2_flags[:2] == [b"* 1 FETCH (FLAGS ())\r\n", b"* 2 FETCH (FLAGS ())\r\n"]
    assert b"* 2 RECENT\r\n" in rev1_select
    await rev1.close()
    await rev2.close()


async def test_imap4rev2_names_are_utf8_and_select_names_the_folder(
    served: tuple[RunningImap, MemoryMailStore],
) -> None:
    rev2, rev1 = await logged_in(served[0], rev2=True), await logged_in(served[0], rev2=False)

    created = await rev2.command('CREATE "Entwürfe"'.encode())
    selected = await rev2.command('SELECT "Entwürfe"'.encode())
    listed_rev1 = await rev1.command(b'LIST "" "Entw*"')

    assert created == [b"t OK Create completed.\r\n"]
    assert selected[-2:] == [
        '* LIST () "/" "Entwürfe"\r\n'.encode(),
        b"t OK [READ-WRITE] Select completed.\r\n",
    ]
    assert listed_rev1[0] == b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"\r\n'
    await rev1.close()
    await rev2.close()


@pytest.mark.parametrize(
    ("command", "too_large"),
    [
        (b"t SEARCH LARGER 9223372036854775807", b"t SEARCH LARGER 9223372036854775808"),
        (
            b"t FETCH 1 (BODY.PEEK[]<4294967296.4294967296>)",
            b"t FETCH 1 (BODY.PEEK[]<9223372036854775808.1>)",
        ),
    ],
)
def test_sizes_and_partial_ranges_are_63_bit_in_imap4rev2_only(command: bytes, too_large: bytes) -> None:
    parse_command(command, utf8=True, rev2=True)
    with pytest.raises(ParseError, match="out of range"):
        parse_command(command)
    with pytest.raises(ParseError, match="out of range"):
        parse_command(too_large, utf8=True, rev2=True)
