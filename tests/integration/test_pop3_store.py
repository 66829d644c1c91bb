"""POP3 over the real store, on SQLite and PostgreSQL: mail delivered over SMTP, read and deleted
over POP3, with the effects seen by the store, by a new POP3 session and by an IMAP client."""

from __future__ import annotations

import asyncio
import poplib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from mailservice.bootstrap import Runtime
from mailservice.domain.mail_session import MailSession
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from tests.support.agent import claim
from tests.support.imap_wire import Wire
from tests.support.keys import AgentKey
from tests.support.mail import PaidMailbox, mail_listeners, paid_mailbox, send, text_message
from tests.support.pop3 import Pop3Wire, RunningPop3, running_pop3

WAIT_SECONDS = 10


@dataclass(frozen=True)
class Account:
    mailbox: PaidMailbox
    password: str


@pytest.fixture
async def account(runtime: Runtime, client: httpx.AsyncClient) -> Account:
    mailbox = await paid_mailbox(client)
    current = await runtime.services.mailboxes.current(mailbox.id)
    assert current is not None
    return Account(mailbox, runtime.services.credentials.mail_password(current))


@pytest.fixture
async def delivered(runtime: Runtime, account: Account) -> list[bytes]:
    """Three messages delivered over SMTP; the last one has lines starting with a dot."""
    raws = [
        text_message(account.mailbox.address, "first", "one\n"),
        text_message(account.mailbox.address, "second", "two\n"),
        text_message(account.mailbox.address, "dots", ".leading dot\n..two\n.\nend\n"),
    ]
    async with mail_listeners(runtime) as (smtp_port, _):
        for raw in raws:
            await send(smtp_port, raw, [account.mailbox.address])
    return raws


@pytest.fixture
async def pop3(runtime: Runtime) -> AsyncIterator[RunningPop3]:
    async with running_pop3(runtime.services.mail_access) as running:
        yield running


async def session_of(runtime: Runtime, account: Account) -> MailSession:
    return await runtime.services.mail_access.login(account.mailbox.address, account.password, "127.0.0.1")


async def test_poplib_reads_what_smtp_delivered(
    runtime: Runtime, account: Account, delivered: list[bytes], pop3: RunningPop3
) -> None:
    session = await session_of(runtime, account)
    inbox = await session.open("INBOX")
    stored = await session.raw(inbox.status.folder_id, [1, 2, 3])

    def read() -> None:
        client = poplib.POP3(pop3.host, pop3.port, timeout=WAIT_SECONDS)
        client.user(account.mailbox.login)
        client.pass_(account.password)
        assert client.stat() == (3, sum(len(raw) for raw in stored.values()))
        assert client.list()[1] == [f"{uid} {len(stored[uid])}".encode() for uid in (1, 2, 3)]
        assert client.uidl()[1] == [f"{uid} {inbox.status.uidvalidity}.{uid}".encode() for uid in (1, 2, 3)]
        for number in (1, 2, 3):
            _, lines, _ = client.retr(number)
            assert b"\r\n".join(lines) + b"\r\n" == stored[number]
        assert stored[3].endswith(delivered[2].split(b"\n\n", 1)[1].replace(b"\n", b"\r\n"))
        client.quit()

    await asyncio.to_thread(read)
    after = await session.open("INBOX")
    assert all("\\Seen" in message.flags for message in after.messages)


async def test_dele_and_quit_expunge_for_imap_clients_and_later_sessions(
    runtime: Runtime, account: Account, delivered: list[bytes], pop3: RunningPop3
) -> None:
    session = await session_of(runtime, account)
    inbox = await session.open("INBOX")
    imap_server = await start_imap(
        runtime.services.mail_access, ImapOptions(port=0, allow_plaintext_auth=True)
    )
    host, port = imap_server.sockets[0].getsockname()[:2]
    reader, writer = await asyncio.open_connection(host, port)
    imap = Wire(reader, writer)
    try:
        await imap.line()
        login = f"LOGIN {account.mailbox.address} {account.password}".encode()
        assert (await imap.command(login))[-1].startswith(b"t OK")
        assert b"* 3 EXISTS\r\n" in await imap.command(b"SELECT INBOX")

        wire = await Pop3Wire.connect(pop3)
        assert (await wire.login(account.mailbox.address, account.password)).startswith(b"+OK")
        assert await wire.command(b"DELE 2") == b"+OK Message 2 marked to be deleted.\r\n"
        assert await wire.command(b"QUIT") == b"+OK Logging out, 1 messages deleted, 2 left.\r\n"

        assert (await imap.command(b"NOOP"))[0] == b"* 2 EXPUNGE\r\n"
        assert (await imap.command(b"UID SEARCH ALL"))[0] == b"* SEARCH 1 3\r\n"
    finally:
        await imap.close()
        imap_server.close()
        await imap_server.wait_closed()

    changes = await session.changes(inbox.status.folder_id, inbox.status.highestmodseq)
    assert changes.expunged == (2,)
    wire = await Pop3Wire.connect(pop3)
    assert (await wire.login(account.mailbox.login, account.password)).startswith(
        b"+OK Logged in, 2 messages"
    )
    _, body = await wire.multiline(b"UIDL")
    assert body == f"1 {inbox.status.uidvalidity}.1\r\n2 {inbox.status.uidvalidity}.3\r\n".encode()
    await wire.close()


async def test_a_second_session_on_one_mailbox_is_in_use_and_rset_keeps_everything(
    runtime: Runtime, account: Account, delivered: list[bytes], pop3: RunningPop3
) -> None:
    first = await Pop3Wire.connect(pop3)
    assert (await first.login(account.mailbox.address, account.password)).startswith(b"+OK")
    second = await Pop3Wire.connect(pop3)
    assert (await second.login(account.mailbox.login, account.password)).startswith(b"-ERR [IN-USE]")
    await first.command(b"DELE 1")
    assert (await first.command(b"RSET")).startswith(b"+OK Maildrop has 3 messages")
    assert (await first.command(b"QUIT")).startswith(b"+OK Logging out, 0 messages deleted")
    assert await first.closed()
    assert (await second.login(account.mailbox.address, account.password)).startswith(b"+OK")
    await second.close()
    assert len((await (await session_of(runtime, account)).open("INBOX")).messages) == 3


async def test_wrong_passwords_and_unpaid_mailboxes_are_refused(
    runtime: Runtime, client: httpx.AsyncClient, account: Account, pop3: RunningPop3
) -> None:
    claimed = (await claim(client, AgentKey.generate())).json()
    unpaid = await runtime.services.mailboxes.current(claimed["id"])
    assert unpaid is not None
    password = runtime.services.credentials.mail_password(unpaid)

    wire = await Pop3Wire.connect(pop3)
    assert await wire.login(account.mailbox.address, "wrong") == (
        b"-ERR [AUTH] Authentication failed: invalid username or password.\r\n"
    )
    assert await wire.login(unpaid.login, password) == (
        b"-ERR [AUTH] Authentication failed: the mailbox is not active: it is unpaid or expired.\r\n"
    )
    assert (await wire.login(account.mailbox.address, account.password)).startswith(
        b"+OK Logged in, 0 messages"
    )
    await wire.close()
