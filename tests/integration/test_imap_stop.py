"""A stop of the service ends IMAP connections as Dovecot does, with `* BYE Server shutting down.`, and
never in the middle of a command: one waiting for its next command, or idling, is ended at once; a
command under way is answered first, its change made."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from mailservice.protocols.lines.listener import LineServer
from tests.support.imap_wire import ADDRESS, PASSWORD, Wire
from tests.support.mail import text_message
from tests.support.memory_mail_session import MemoryMailLogin, MemoryMailSession, MemoryMailStore

BYE = b"* BYE Server shutting down.\r\n"
GRACE_SECONDS = 10.0


@dataclass
class Stoppable:
    server: LineServer
    store: MemoryMailStore
    port: int

    async def wire(self) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        wire = Wire(reader, writer)
        wire.greeting = await wire.line()
        return wire

    async def stop(self) -> None:
        self.server.close()
        await asyncio.wait_for(self.server.end_connections(GRACE_SECONDS), GRACE_SECONDS / 2)


@pytest.fixture
async def imap() -> AsyncIterator[Stoppable]:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD)
    store.deliver(text_message("someone@example.org", subject="one").replace(b"\n", b"\r\n"))
    server = await start_imap(login, ImapOptions(port=0, allow_plaintext_auth=True))
    try:
        yield Stoppable(server, store, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def until_requested(imap: Stoppable) -> None:
    async with asyncio.timeout(GRACE_SECONDS):
        while imap.server.stops is None or not imap.server.stops.requested:  # noqa: ASYNC110 -- no signal
            await asyncio.sleep(0.01)


async def told_bye_and_closed(wire: Wire) -> None:
    """The server's goodbye, then its end of the connection; then the client's (the server lingers,
    reading, until the client closes)."""
    assert await wire.line() == BYE
    assert await asyncio.wait_for(wire.reader.read(), GRACE_SECONDS) == b""
    await wire.close()


async def test_a_connection_waiting_for_a_command_is_told_bye_and_closed(imap: Stoppable) -> None:
    logged_in, greeted = await imap.wire(), await imap.wire()
    await logged_in.login()
    await logged_in.command(b"SELECT INBOX")

    stopping = asyncio.create_task(imap.stop())

    for wire in (logged_in, greeted):
        await told_bye_and_closed(wire)
    await stopping


async def test_an_idling_connection_is_told_bye_and_closed(imap: Stoppable) -> None:
    wire = await imap.wire()
    await wire.login()
    await wire.command(b"SELECT INBOX")
    wire.send(b"i IDLE\r\n")
    assert (await wire.line()).startswith(b"+ ")

    stopping = asyncio.create_task(imap.stop())

    await told_bye_and_closed(wire)
    await stopping


async def test_a_command_under_way_is_answered_and_its_change_made_before_bye(
    imap: Stoppable, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = await imap.wire()
    await wire.login()
    await wire.command(b"SELECT INBOX")
    storing, go_on = asyncio.Event(), asyncio.Event()
    store_flags = MemoryMailSession.store_flags

    async def held(session: MemoryMailSession, *args: Any, **kwargs: Any) -> Any:
        storing.set()
        await go_on.wait()
        return await store_flags(session, *args, **kwargs)

    monkeypatch.setattr(MemoryMailSession, "store_flags", held)
    wire.send(b"s STORE 1 +FLAGS (\\Flagged)\r\n")
    await asyncio.wait_for(storing.wait(), GRACE_SECONDS)
    stopping = asyncio.create_task(imap.stop())
    await until_requested(imap)
    assert not stopping.done(), "the stop waits for the command under way"
    go_on.set()

    lines = await wire.until(b"s")
    assert lines[-1].startswith(b"s OK"), lines
    assert b"\\Flagged" in lines[0]
    await told_bye_and_closed(wire)
    await stopping
    assert "\\Flagged" in imap.store.folder("INBOX").messages[1].meta.flags


async def test_an_append_whose_literal_is_on_its_way_is_stored_before_bye(imap: Stoppable) -> None:
    wire = await imap.wire()
    await wire.login()
    raw = text_message("someone@example.org", subject="two").replace(b"\n", b"\r\n")
    wire.send(b"a APPEND INBOX {%d}\r\n" % len(raw))
    assert (await wire.line()).startswith(b"+ ")
    stopping = asyncio.create_task(imap.stop())
    await until_requested(imap)
    wire.send(raw + b"\r\n")

    lines = await wire.until(b"a")
    assert lines[-1].startswith(b"a OK"), lines
    await told_bye_and_closed(wire)
    await stopping
    assert len(imap.store.folder("INBOX").messages) == 2
