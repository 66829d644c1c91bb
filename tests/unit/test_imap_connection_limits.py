"""The IMAP connection's limits over the in-memory mailbox: connection caps, the login deadline,
literals before login, the memory share and APPEND literals spooled to a file."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from mailservice.protocols.connection_policy import ConnectionLimits, MemoryBudget
from mailservice.protocols.imap.options import listener_policy
from tests.support.imap_messages import PLAIN
from tests.support.imap_wire import ADDRESS, PASSWORD, Wire, running_imap
from tests.support.memory_mail_session import MemoryMailLogin

TOO_MANY = b"* BYE Too many connections, try again later.\r\n"


def login_with_mailbox() -> MemoryMailLogin:
    login = MemoryMailLogin()
    login.add_mailbox(ADDRESS, PASSWORD)
    return login


async def test_a_connection_over_the_per_address_cap_gets_bye_and_a_freed_slot_is_reused() -> None:
    async with running_imap(policy=replace(listener_policy(), limits=ConnectionLimits(10, 1))) as imap:
        first = await Wire.connect(imap)
        second = await Wire.connect(imap)
        assert second.greeting == TOO_MANY
        assert await asyncio.wait_for(second.reader.read(), 5) == b""
        await first.command(b"LOGOUT")
        await first.close()
        async with asyncio.timeout(5):
            while (third := await Wire.connect(imap)).greeting == TOO_MANY:
                await third.close()  # the server has not yet seen the first one go
        assert third.greeting.startswith(b"* OK")
        await third.close()


async def test_the_login_deadline_counts_from_the_connect_not_from_the_last_command() -> None:
    policy = replace(listener_policy(), login_timeout_seconds=0.3)
    async with running_imap(policy=policy) as imap:
        wire = await Wire.connect(imap)
        replies: list[bytes] = []
        async with asyncio.timeout(5):
            while not replies or replies[-1].startswith(b"t OK"):
                wire.send(b"t NOOP\r\n")
                replies.append(await wire.line())
        assert replies[-1] == b"* BYE Login timed out.\r\n"
        assert len(replies) > 1
        await wire.close()


async def test_after_login_the_deadline_no_longer_applies() -> None:
    policy = replace(listener_policy(), login_timeout_seconds=0.2)
    async with running_imap(login_with_mailbox(), policy=policy) as imap:
        wire = await Wire.connect(imap)
        await wire.login()
        deadline = asyncio.get_running_loop().time() + 0.5
        while asyncio.get_running_loop().time() < deadline:
            assert await wire.command(b"NOOP") == [b"t OK Noop completed.\r\n"]
        await wire.close()


async def test_an_append_literal_before_login_is_refused_before_the_continuation() -> None:
    async with running_imap() as imap:
        wire = await Wire.connect(imap)
        wire.send(b"a APPEND INBOX {26214400}\r\n")
        assert await wire.line() == b"a BAD Log in first.\r\n"
        wire.send(b"b LOGIN {26214400}\r\n")
        assert await wire.line() == b"b NO [LIMIT] Too much data in one command.\r\n"
        assert await wire.command(b"NOOP") == [b"t OK Noop completed.\r\n"]
        wire.send(b"c APPEND INBOX {10+}\r\n0123456789\r\n")
        assert await wire.line() == b"* BYE Literal refused before login.\r\n"
        assert await asyncio.wait_for(wire.reader.read(), 5) == b""


async def test_login_with_literals_still_works_before_login() -> None:
    async with running_imap(login_with_mailbox()) as imap:
        wire = await Wire.connect(imap)
        wire.send(b"a LOGIN {%d}\r\n" % len(ADDRESS))
        assert await wire.line() == b"+ Ready for literal data\r\n"
        wire.send(ADDRESS.encode() + b" {%d+}\r\n%s\r\n" % (len(PASSWORD), PASSWORD.encode()))
        assert (await wire.until(b"a"))[-1].startswith(b"a OK")
        await wire.close()


async def test_a_command_whose_lines_pass_the_share_ends_the_connection() -> None:
    async with running_imap() as imap:
        wire = await Wire.connect(imap)
        wire.send(b"a LOGIN {0}\r\n")
        assert (await wire.line()).startswith(b"+ ")
        wire.send((b"x" * 1000 + b" {0+}\r\n") * 9)
        assert await wire.line() == b"* BYE Too much data in one command.\r\n"
        assert await asyncio.wait_for(wire.reader.read(), 5) == b""


async def test_a_literal_over_the_share_after_login_is_refused_and_the_connection_goes_on() -> None:
    policy = replace(listener_policy(), connection_buffer_bytes=64 * 1024)
    async with running_imap(login_with_mailbox(), policy=policy) as imap:
        wire = await Wire.connect(imap)
        await wire.login()
        wire.send(b"a SEARCH TEXT {100000}\r\n")
        assert await wire.line() == b"a NO [LIMIT] Too much data in one command.\r\n"
        wire.send(b"b SEARCH TEXT {100000+}\r\n" + b"z" * 100_000 + b"\r\n")
        assert await wire.line() == b"b NO [LIMIT] Too much data in one command.\r\n"
        assert await wire.command(b"NOOP") == [b"t OK Noop completed.\r\n"]
        await wire.close()


async def test_a_large_append_literal_is_spooled_and_stored_whole() -> None:
    login = login_with_mailbox()
    async with running_imap(login, spool_threshold_bytes=100) as imap:
        wire = await Wire.connect(imap)
        await wire.login()
        wire.send(b"a APPEND INBOX {%d}\r\n" % len(PLAIN))
        assert await wire.line() == b"+ Ready for literal data\r\n"
        wire.send(PLAIN + b"\r\n")
        assert (await wire.until(b"a"))[-1].startswith(b"a OK [APPENDUID")
        stored = login.stores[ADDRESS][0].folders["INBOX"].messages
        assert [message.raw for message in stored.values()] == [PLAIN]
        await wire.close()


async def test_a_spooled_literal_the_process_budget_cannot_hold_is_refused() -> None:
    message = PLAIN + b"x" * 10_000
    policy = replace(listener_policy(), memory=MemoryBudget(8 * 1024))
    async with running_imap(login_with_mailbox(), spool_threshold_bytes=100, policy=policy) as imap:
        wire = await Wire.connect(imap)
        await wire.login()
        wire.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(message), message))
        assert await wire.until(b"a") == [b"a NO [LIMIT] Server is busy, try again later.\r\n"]
        assert await wire.command(b"NOOP") == [b"t OK Noop completed.\r\n"]
        await wire.close()
