"""Real IMAP clients (Python's imaplib and imapclient) over real sockets against `start_imap` and the
in-memory mail session. The clients are blocking, so each runs in a thread while the server runs in
the test's event loop."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import imapclient
import pytest

from tests.support.imap_messages import MULTIPART, NESTED, PLAIN, numbered
from tests.support.imap_wire import ADDRESS, PASSWORD, RunningImap, running_imap
from tests.support.memory_mail_session import MemoryMailLogin, MemoryMailStore
from tests.support.tls import self_signed

WAIT_SECONDS = 10


@pytest.fixture
async def imap() -> AsyncIterator[RunningImap]:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD, special={"Trash": "\\Trash", "Archive": "\\Archive"})
    for raw in (PLAIN, MULTIPART, NESTED):
        store.deliver(raw, internal_date=datetime(2026, 2, 2, 10, 0, tzinfo=UTC))
    async with running_imap(login) as running:
        yield running


def mailbox(imap: RunningImap) -> MemoryMailStore:
    return imap.login.stores[ADDRESS][0]


def client_of(imap: RunningImap) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient(imap.host, port=imap.port, ssl=False, timeout=WAIT_SECONDS)
    client.login(ADDRESS, PASSWORD)
    return client


async def test_imaplib_reads_a_mailbox(imap: RunningImap) -> None:
    def session() -> None:
        client = imaplib.IMAP4(imap.host, imap.port, timeout=WAIT_SECONDS)
        assert client.login("agent", PASSWORD)[0] == "OK"
        status, data = client.select("INBOX")
        assert (status, data) == ("OK", [b"3"])
        status, fetched = client.fetch("1", "(RFC822)")
        assert status == "OK" and fetched[0] is not None and fetched[0][1] == PLAIN
        status, found = client.search(None, '(FROM "alice")')
        assert found == [b"1"]
        status, found = client.uid("SEARCH", "UNSEEN")
        assert found == [b"2 3"]
        assert client.logout()[0] == "BYE"

    await asyncio.to_thread(session)


async def test_imapclient_fetches_every_item(imap: RunningImap) -> None:
    def session() -> None:
        client = client_of(imap)
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 3
        fetched = client.fetch(
            [1, 2, 3],
            [
                "UID",
                "FLAGS",
                "INTERNALDATE",
                "RFC822.SIZE",
                "ENVELOPE",
                "BODY",
                "BODYSTRUCTURE",
                "BODY.PEEK[]",
                "BODY.PEEK[HEADER]",
                "BODY.PEEK[TEXT]",
                "BODY.PEEK[1]",
                "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
                "BINARY.PEEK[1]",
                "MODSEQ",
            ],
        )
        assert sorted(fetched) == [1, 2, 3]
        first = fetched[1]
        assert first[b"BODY[]"] == PLAIN
        assert first[b"RFC822.SIZE"] == len(PLAIN)
        assert first[b"ENVELOPE"].subject == b"Your code"
        assert first[b"ENVELOPE"].from_[0].mailbox == b"alice"
        assert first[b"BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: Your code\r\n\r\n"
        assert first[b"BODY[TEXT]"] == b"Your code is 482913.\r\n"
        assert first[b"INTERNALDATE"].replace(tzinfo=None) == datetime(2026, 2, 2, 10, 0)
        assert fetched[2][b"BODYSTRUCTURE"].is_multipart
        assert fetched[2][b"BINARY[1]"] == "Voilà le résumé.".encode()
        assert fetched[3][b"BODY[1]"] == b"See below."
        assert all(b"\\Seen" not in item[b"FLAGS"] for item in fetched.values())
        client.logout()

    await asyncio.to_thread(session)


async def test_imapclient_searches_stores_copies_and_moves(imap: RunningImap) -> None:
    def session() -> None:
        client = client_of(imap)
        folders = {name: flags for flags, _, name in client.list_folders()}
        assert b"\\Trash" in folders["Trash"] and b"\\Archive" in folders["Archive"]
        client.select_folder("INBOX")
        assert client.search(["SUBJECT", "résumé"], charset="UTF-8") == [2]
        assert client.search(["OR", "FROM", "alice", "FROM", "carol"]) == [1, 3]
        client.add_flags([1, 2], [imapclient.SEEN, b"$Done"])
        assert client.get_flags([1])[1] == (b"\\Seen", b"\\Recent", b"$Done")  # the first session here
        client.remove_flags([2], [b"$Done"])
        assert client.search(["KEYWORD", "$Done"]) == [1]
        client.copy([1], "Archive")
        client.move([3], "Trash")
        assert client.search("ALL") == [1, 2]  # uids
        assert client.folder_status("Trash", ["MESSAGES"])[b"MESSAGES"] == 1
        assert client.folder_status("Archive", ["MESSAGES", "UNSEEN"]) == {b"MESSAGES": 1, b"UNSEEN": 0}
        client.logout()

    await asyncio.to_thread(session)
    assert sorted(mailbox(imap).folders["INBOX"].messages) == [1, 2]


async def test_expunge_is_seen_by_a_second_session(imap: RunningImap) -> None:
    def session() -> None:
        first, second = client_of(imap), client_of(imap)
        first.select_folder("INBOX")
        second.select_folder("INBOX")
        first.delete_messages([2])
        first.expunge()
        responses = second.noop()[1]
        assert (2, b"EXPUNGE") in responses
        assert second.search("ALL") == [1, 3]
        assert second.fetch([3], ["FLAGS"])[3][b"SEQ"] == 2
        first.logout()
        second.logout()

    await asyncio.to_thread(session)


async def test_idle_is_woken_by_an_append_from_another_session(imap: RunningImap) -> None:
    idling = threading.Event()

    def watcher() -> list[tuple[int, bytes]]:
        client = client_of(imap)
        client.select_folder("INBOX")
        client.idle()
        idling.set()
        found: list[tuple[int, bytes]] = []
        while not found:
            found = [
                response for response in client.idle_check(timeout=WAIT_SECONDS) if response[1] == b"EXISTS"
            ]
        client.idle_done()
        client.logout()
        return found

    def appender() -> None:
        assert idling.wait(WAIT_SECONDS)
        client = client_of(imap)
        client.append("INBOX", numbered(9), flags=[b"\\Seen"])
        client.logout()

    found, _ = await asyncio.gather(asyncio.to_thread(watcher), asyncio.to_thread(appender))
    assert found == [(4, b"EXISTS")]


async def test_append_with_flags_and_date_reports_appenduid(imap: RunningImap) -> None:
    def session() -> bytes:
        client = client_of(imap)
        reply: bytes = client.append(
            "Trash", MULTIPART, flags=[b"\\Draft"], msg_time=datetime(2026, 3, 1, tzinfo=UTC)
        )
        client.logout()
        return reply

    reply = await asyncio.to_thread(session)
    trash = mailbox(imap).folders["Trash"]
    assert reply.startswith(b"[APPENDUID %d 1]" % trash.uidvalidity)
    assert trash.messages[1].raw == MULTIPART
    assert trash.messages[1].meta.flags == {"\\Draft"}


async def test_starttls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    login = MemoryMailLogin()
    login.add_mailbox(ADDRESS, PASSWORD).deliver(PLAIN)
    async with running_imap(login, tls_context=server_context, allow_plaintext_auth=False) as imap:

        def session() -> None:
            client = imaplib.IMAP4("localhost", imap.port, timeout=WAIT_SECONDS)
            assert "STARTTLS" in client.capabilities and "LOGINDISABLED" in client.capabilities
            with pytest.raises(imaplib.IMAP4.error):
                client.login(ADDRESS, PASSWORD)
            assert client.starttls(ssl_context=client_context)[0] == "OK"
            assert "AUTH=PLAIN" in client.capabilities and "STARTTLS" not in client.capabilities
            assert client.login(ADDRESS, PASSWORD)[0] == "OK"
            assert client.select("INBOX") == ("OK", [b"1"])
            client.logout()

        await asyncio.to_thread(session)


async def test_implicit_tls_listener(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    login = MemoryMailLogin()
    login.add_mailbox(ADDRESS, PASSWORD)
    async with running_imap(login, implicit_tls=server_context, allow_plaintext_auth=False) as imap:

        def session() -> None:
            client = imaplib.IMAP4_SSL(
                "localhost", imap.port, ssl_context=client_context, timeout=WAIT_SECONDS
            )
            assert "STARTTLS" not in client.capabilities
            assert client.login(ADDRESS, PASSWORD)[0] == "OK"
            client.logout()

        await asyncio.to_thread(session)
