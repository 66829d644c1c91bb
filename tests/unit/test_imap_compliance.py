"""IMAP answers a picky client relies on, each as Dovecot 2.3 gives it: tagged errors, exact bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.imap_wire import ADDRESS, PASSWORD, RunningImap, Wire, running_imap
from tests.support.memory_mail_session import MemoryMailLogin

WITH_NUL = (
    b"From: a@example.org\r\nSubject: nul\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"X\x00Y\r\n--b--\r\n"
)
QUOTED_PRINTABLE = (
    b"From: a@example.org\r\nSubject: qp\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"trailing spaces   \r\nsoft break with padding= \r\ncontinues =3D here\t\r\nend\r\n"
)


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD, quota_bytes=100_000)
    for raw in (WITH_NUL, QUOTED_PRINTABLE):
        store.deliver(raw)
    imap: RunningImap
    async with running_imap(login) as imap:
        connection = await Wire.connect(imap)
        await connection.login()
        assert (await connection.command(b"SELECT INBOX"))[-1].startswith(b"t OK")
        yield connection
        await connection.close()


@pytest.mark.parametrize(
    "sequence_set",
    [b"0", b"4294967296", b"1,,2", b"1:", b"*:0", b"abc"],
)
async def test_a_bad_sequence_set_gets_a_tagged_bad_without_python_reprs(
    wire: Wire, sequence_set: bytes
) -> None:
    for command in (b"FETCH %s (FLAGS)", b"UID FETCH %s (FLAGS)", b"STORE %s +FLAGS (\\Seen)"):
        reply = await wire.command(command % sequence_set)
        assert reply[-1].startswith(b"t BAD "), reply
        assert b"b'" not in reply[-1]


async def test_a_uid_set_of_ten_thousand_separate_uids_is_answered(wire: Wire) -> None:
    uids = b",".join(b"%d" % uid for uid in range(1, 20_004, 2))

    reply = await wire.command(b"UID FETCH " + uids + b" (FLAGS)")

    assert reply[-1].startswith(b"t OK"), reply[-1]
    assert reply[0].startswith(b"* 1 FETCH (UID 1 ")


async def test_binary_keeps_nul_bytes_and_sends_a_literal8(wire: Wire) -> None:
    reply = await wire.command(b"FETCH 1 (BINARY.PEEK[1])")

    assert reply[0] == b"* 1 FETCH (BINARY[1] ~{3}\r\nX\x00Y)\r\n"


async def test_body_sends_nul_bytes_as_0x80_in_every_section(wire: Wire) -> None:
    part = await wire.command(b"FETCH 1 (BODY.PEEK[1])")
    whole = await wire.command(b"FETCH 1 (BODY.PEEK[])")

    assert part[0] == b"* 1 FETCH (BODY[1] {3}\r\nX\x80Y)\r\n"
    assert b"\x00" not in whole[0] and b"X\x80Y" in whole[0]


async def test_binary_quoted_printable_drops_trailing_whitespace_and_padded_soft_breaks(wire: Wire) -> None:
    decoded = b"trailing spaces\r\nsoft break with paddingcontinues = here\r\nend\r\n"

    body = await wire.command(b"FETCH 2 (BINARY.PEEK[1])")
    size = await wire.command(b"FETCH 2 (BINARY.SIZE[1])")

    assert body[0] == b"* 2 FETCH (BINARY[1] {%d}\r\n%s)\r\n" % (len(decoded), decoded)
    assert size[0] == b"* 2 FETCH (BINARY.SIZE[1] %d)\r\n" % len(decoded)


@pytest.mark.parametrize(
    "command",
    [
        b"SEARCH LARGER 99999999999999999999",
        b"SEARCH LARGER 4294967296",
        b"FETCH 1 (BODY.PEEK[]<0.4294967296>)",
        b"FETCH 1 (BODY.PEEK[]<4294967296.1>)",
        b"SEARCH MODSEQ 9223372036854775808",
    ],
)
async def test_numbers_beyond_their_range_are_bad(wire: Wire, command: bytes) -> None:
    reply = await wire.command(command)
    assert reply[-1].startswith(b"t BAD "), reply


async def test_numbers_at_the_top_of_their_range_are_accepted(wire: Wire) -> None:
    assert (await wire.command(b"SEARCH LARGER 4294967295"))[-1].startswith(b"t OK")
    assert (await wire.command(b"SEARCH MODSEQ 9223372036854775807"))[-1].startswith(b"t OK")


@pytest.mark.parametrize("name", [b'"a&b"', b'"&AGE-"', b'"&Jjo"', b'"&ZeVnLIq-"', b'"caf\xc3\xa9"'])
async def test_a_mailbox_name_that_is_not_modified_utf7_is_refused_with_no(wire: Wire, name: bytes) -> None:
    reply = await wire.command(b"CREATE " + name)
    listed = await wire.command(b'LIST "" "*"')

    assert reply[-1] == b"t NO [CANNOT] Mailbox name is not valid mUTF-7\r\n"
    assert all(b"&-" not in line and b"caf" not in line for line in listed)


async def test_a_modified_utf7_name_is_listed_as_it_was_sent(wire: Wire) -> None:
    assert (await wire.command(b'CREATE "Entw&APw-rfe &- Co"'))[-1].startswith(b"t OK")
    listed = await wire.command(b'LIST "" "Entw*"')
    assert listed[0] == b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe &- Co"\r\n'


async def test_search_from_finds_an_address_written_with_comments() -> None:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD, quota_bytes=100_000)
    store.deliver(b"From: <user-from (comment)@ (comment) domain.org>\r\nSubject: c\r\n\r\nbody\r\n")
    store.deliver(b"From: other@domain.org\r\nSubject: d\r\n\r\nbody\r\n")
    async with running_imap(login) as imap:
        wire = await Wire.connect(imap)
        await wire.login()
        await wire.command(b"SELECT INBOX")

        reply = await wire.command(b"SEARCH FROM user-from@domain.org")

        assert reply[0] == b"* SEARCH 1\r\n"
        await wire.close()


@pytest.mark.parametrize(
    "criteria",
    [
        b"OR " * 5000 + b"SEEN " * 5000 + b"ALL",
        b"OR SEEN " * 5000 + b"ALL",
        b"NOT " * 5001 + b"DELETED",
        b"(" * 5000 + b"ALL" + b")" * 5000,
    ],
    ids=["left-nested ORs", "right-nested ORs", "NOTs", "parentheses"],
)
async def test_thousands_of_chained_search_keys_are_answered(wire: Wire, criteria: bytes) -> None:
    reply = await wire.command(b"SEARCH " + criteria)

    assert reply[-1].startswith(b"t OK"), reply[-1][:80]
    assert reply[0] == b"* SEARCH 1 2\r\n"


async def test_search_keys_alternating_deeper_than_the_limit_are_bad(wire: Wire) -> None:
    reply = await wire.command(b"SEARCH " + b"OR SEEN (ALL " * 200 + b"ALL" + b")" * 200)
    assert reply[-1].startswith(b"t BAD ")


async def test_a_new_keyword_is_announced_before_it_is_used_to_this_and_other_sessions() -> None:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD, quota_bytes=100_000)
    store.deliver(WITH_NUL)
    async with running_imap(login) as imap:
        first, second = await Wire.connect(imap), await Wire.connect(imap)
        for wire in (first, second):
            await wire.login()
            await wire.command(b"SELECT INBOX")

        stored = await first.command(b"STORE 1 +FLAGS ($Label7)")
        told = await second.command(b"NOOP")

        for reply in (stored, told):
            assert reply[0] == b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label7)\r\n"
            assert reply[1] == (
                b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label7 \\*)]"
                b" Flags permitted.\r\n"
            )
            assert reply[2].startswith(b"* 1 FETCH (") and b"$Label7" in reply[2]
        again = await first.command(b"STORE 1 -FLAGS ($Label7)")
        assert not again[0].startswith(b"* FLAGS")
        await first.close()
        await second.close()
