"""A FETCH that sets \\Seen writes the folder, against the real store: a message delivered after it is
announced by the next NOOP, and by an IDLE begun after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from mailservice.adapters.db.mail_folders import SqlMailboxFolders
from mailservice.bootstrap import Runtime
from mailservice.domain.mail_session import FlagChange, MailSession
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from tests.support.agent import claim_and_pay
from tests.support.imap_wire import Wire
from tests.support.keys import AgentKey
from tests.support.mail import text_message


def _message(subject: str) -> bytes:
    return text_message("someone@example.org", subject=subject).replace(b"\n", b"\r\n")


@asynccontextmanager
async def _selected(runtime: Runtime, client: httpx.AsyncClient) -> AsyncIterator[tuple[Wire, MailSession]]:
    details = await claim_and_pay(client, AgentKey.generate())
    address, password = str(details["email"]), str(details["password"])
    session = await runtime.services.mail_access.login(address, password, "127.0.0.1")
    await session.append("INBOX", _message("first"), frozenset(), None)
    server = await start_imap(runtime.services.mail_access, ImapOptions(port=0, allow_plaintext_auth=True))
    port = server.sockets[0].getsockname()[1]
    wire = Wire(*await asyncio.open_connection("127.0.0.1", port))
    try:
        wire.greeting = await wire.line()
        assert (await wire.command(f"LOGIN {address} {password}".encode()))[-1].startswith(b"t OK")
        assert (await wire.command(b"SELECT INBOX"))[-1].startswith(b"t OK")
        yield wire, session
    finally:
        await wire.close()
        server.close()
        await server.wait_closed()


async def test_noop_after_a_fetch_that_set_seen_announces_a_new_message(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    async with _selected(runtime, client) as (wire, session):
        fetched = await wire.command(b"FETCH 1 (BODY[])")
        assert fetched[-1].startswith(b"t OK")
        await session.append("INBOX", _message("second"), frozenset(), None)

        noop = await wire.command(b"NOOP")

        assert b"* 2 EXISTS\r\n" in noop, noop


async def test_idle_after_a_fetch_that_set_seen_announces_a_message_delivered_before_it(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    async with _selected(runtime, client) as (wire, session):
        assert (await wire.command(b"FETCH 1 (BODY[])"))[-1].startswith(b"t OK")
        await session.append("INBOX", _message("second"), frozenset(), None)

        wire.send(b"i IDLE\r\n")
        assert await wire.line() == b"+ idling\r\n"
        announced = await asyncio.wait_for(wire.line(), 2)

        assert announced == b"* 2 EXISTS\r\n"
        wire.send(b"DONE\r\n")
        await wire.until(b"i")


async def test_a_message_delivered_while_a_fetch_sets_seen_is_recent_to_the_session_that_sees_it(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The FETCH answers with the changes read before it; its \\Seen write must not take as recent a
    message that came meanwhile. The changes are read again after the write (newer than those read
    before it), and tell of that message, recent to this session."""
    async with _selected(runtime, client) as (wire, session):
        store_flags = SqlMailboxFolders.store_flags

        async def delivered_first(folders: SqlMailboxFolders, *arguments: Any, **options: Any) -> Any:
            monkeypatch.setattr(SqlMailboxFolders, "store_flags", store_flags)
            await session.append("INBOX", _message("second"), frozenset(), None)
            return await store_flags(folders, *arguments, **options)

        monkeypatch.setattr(SqlMailboxFolders, "store_flags", delivered_first)
        fetched = await wire.command(b"FETCH 1 (BODY[])")

        assert fetched[-1].startswith(b"t OK")
        assert fetched[-3:-1] == [b"* 2 EXISTS\r\n", b"* 2 RECENT\r\n"], fetched
        assert await wire.command(b"NOOP") == [b"t OK Noop completed.\r\n"]


async def test_a_keyword_another_session_gives_while_a_fetch_sets_seen_is_named_before_it_is_shown(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The FETCH's \\Seen write returns the message with a keyword set after the changes were read:
    `* FLAGS` names it before the FETCH shows it."""
    async with _selected(runtime, client) as (wire, session):
        store_flags = SqlMailboxFolders.store_flags
        inbox = (await session.status("INBOX")).folder_id

        async def keyword_first(folders: SqlMailboxFolders, *arguments: Any, **options: Any) -> Any:
            monkeypatch.setattr(SqlMailboxFolders, "store_flags", store_flags)
            await session.store_flags(inbox, [1], FlagChange.ADD, frozenset({"$Race"}))
            return await store_flags(folders, *arguments, **options)

        monkeypatch.setattr(SqlMailboxFolders, "store_flags", keyword_first)
        fetched = await wire.command(b"FETCH 1 (BODY[])")

        named = [
            number for number, line in enumerate(fetched) if line.startswith(b"* FLAGS") and b"$Race" in line
        ]
        shown = [number for number, line in enumerate(fetched) if line.startswith(b"* 1 FETCH")]
        assert named and shown and named[0] < shown[0], fetched
        assert b"$Race" in fetched[shown[0]] or any(b"$Race" in line for line in fetched[shown[0] :]), fetched
