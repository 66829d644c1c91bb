"""UIDVALIDITY is never given twice to one folder name (RFC 3501 section 2.3.1.1), however fast a
client deletes and re-creates it, and the clock never makes it go back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from mailservice.bootstrap import Runtime
from mailservice.domain.mail_session import MailSession
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from tests.support.agent import claim_and_pay
from tests.support.imap_wire import Wire
from tests.support.keys import AgentKey


@pytest.fixture
async def session(runtime: Runtime, client: httpx.AsyncClient) -> AsyncIterator[MailSession]:
    details = await claim_and_pay(client, AgentKey.generate())
    yield await runtime.services.mail_access.login(
        str(details["email"]), str(details["password"]), "127.0.0.1"
    )


async def test_a_folder_deleted_and_created_again_in_the_same_second_gets_a_new_uidvalidity(
    session: MailSession,
) -> None:
    seen = []
    for _ in range(3):
        await session.create_folder("probe-del")
        seen.append((await session.status("probe-del")).uidvalidity)
        await session.delete_folder("probe-del")

    assert len(set(seen)) == 3
    assert seen == sorted(seen)


async def test_every_folder_of_a_mailbox_gets_its_own_uidvalidity(session: MailSession) -> None:
    for name in ("a", "b", "c/d"):
        await session.create_folder(name)

    values = [(await session.status(name)).uidvalidity for name in ("INBOX", "a", "b", "c", "c/d")]

    assert len(set(values)) == len(values)


@pytest.mark.parametrize("command", [b"NOOP", b"STORE 1 +FLAGS ($Stale)", b"UID STORE 1 +FLAGS ($Stale)"])
async def test_a_session_whose_folder_is_deleted_elsewhere_is_ended_and_never_acts_on_a_new_one(
    runtime: Runtime, client: httpx.AsyncClient, command: bytes
) -> None:
    """On SQLite the new folder may even get the old one's id: a STORE must see that it is another
    folder before it writes."""
    details = await claim_and_pay(client, AgentKey.generate())
    login = f"LOGIN {details['email']} {details['password']}".encode()
    server = await start_imap(runtime.services.mail_access, ImapOptions(port=0, allow_plaintext_auth=True))
    port = server.sockets[0].getsockname()[1]
    try:
        first, second = await connected(port), await connected(port)
        for session in (first, second):
            assert (await session.command(login))[-1].startswith(b"t OK")
        await second.command(b"CREATE probe-del")
        await second.command(b"APPEND probe-del {3+}\r\nold")
        assert (await first.command(b"SELECT probe-del"))[-1].startswith(b"t OK")

        await second.command(b"DELETE probe-del")
        await second.command(b"CREATE probe-del")
        await second.command(b"APPEND probe-del {3+}\r\nnew")
        first.send(b"t " + command + b"\r\n")

        assert await first.line() == b"* BYE IMAP session state is inconsistent\r\n"
        assert await first.reader.read() == b""
        await second.command(b"SELECT probe-del")
        assert b"$Stale" not in b"".join(await second.command(b"FETCH 1:* (FLAGS)"))
    finally:
        server.close()
        await server.wait_closed()


async def connected(port: int) -> Wire:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    wire = Wire(reader, writer)
    wire.greeting = await wire.line()
    return wire
