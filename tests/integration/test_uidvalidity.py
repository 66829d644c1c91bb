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


@pytest.mark.parametrize(
    "command",
    [
        b"NOOP",
        b"STORE 1 +FLAGS ($Stale)",
        b"UID STORE 1 +FLAGS ($Stale)",
        b"EXPUNGE",
        b"UID EXPUNGE 1",
        b"CLOSE",
        b"COPY 1 INBOX",
        b"UID COPY 1 INBOX",
        b"MOVE 1 INBOX",
        b"UID MOVE 1 INBOX",
        b"FETCH 1 (BODY[])",
    ],
)
async def test_a_session_whose_folder_is_deleted_elsewhere_is_ended_and_never_acts_on_a_new_one(
    runtime: Runtime, client: httpx.AsyncClient, command: bytes
) -> None:
    """On SQLite the new folder could take the old one's id: no command may act on it. The new
    folder's message is flagged \\Deleted, as the old one was, so an EXPUNGE would remove it."""
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
        assert (await first.command(b"STORE 1 +FLAGS.SILENT (\\Deleted)"))[-1].startswith(b"t OK")

        await second.command(b"DELETE probe-del")
        await second.command(b"CREATE probe-del")
        await second.command(b"APPEND probe-del (\\Deleted) {3+}\r\nnew")
        first.send(b"t " + command + b"\r\n")

        ended = await first.line()
        if command == b"CLOSE":  # leaving the folder needs no answer of it; Dovecot answers OK too
            assert ended in (b"t OK Close completed.\r\n", b"* BYE IMAP session state is inconsistent\r\n")
        else:
            assert ended == b"* BYE IMAP session state is inconsistent\r\n"
            assert await first.reader.read() == b""
        assert b"* 1 EXISTS\r\n" in await second.command(b"EXAMINE probe-del")
        new = (await second.command(b"FETCH 1 (FLAGS BODY.PEEK[])"))[0]
        assert new.startswith(b"* 1 FETCH (FLAGS (\\Deleted") and new.endswith(b"\r\nnew)\r\n")
        assert b"* 0 EXISTS\r\n" in await second.command(b"EXAMINE INBOX")
    finally:
        server.close()
        await server.wait_closed()


async def connected(port: int) -> Wire:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    wire = Wire(reader, writer)
    wire.greeting = await wire.line()
    return wire
