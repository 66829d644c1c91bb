"""The POP3 server over real sockets and the in-memory mail session: Python's poplib (blocking, so it
runs in a thread while the server runs in the test's event loop) and a raw client for exact bytes."""

from __future__ import annotations

import asyncio
import base64
import poplib
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailservice.domain.errors import AuthenticationFailed
from mailservice.domain.mail_session import FlagChange
from mailservice.protocols.connection_policy import ConnectionLimits
from mailservice.protocols.pop3.connection import MAX_INVALID_COMMANDS
from mailservice.protocols.pop3.options import LINE_LIMIT, Pop3Options, listener_policy
from mailservice.protocols.pop3.server import start_pop3
from tests.support.imap_messages import MULTIPART, NESTED, PLAIN, numbered
from tests.support.memory_mail_session import MemoryMailLogin, MemoryMailSession, MemoryMailStore
from tests.support.pop3 import Pop3Wire, RunningPop3, running_pop3
from tests.support.tls import self_signed

ADDRESS = "agent@agents.test"
PASSWORD = "derived-password"
WAIT_SECONDS = 10
DOTTED = (
    b"From: dots@example.org\r\nSubject: dots\r\n\r\n"
    b".starts with a dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n."
)


@pytest.fixture
def login() -> MemoryMailLogin:
    login = MemoryMailLogin()
    store = login.add_mailbox(ADDRESS, PASSWORD)
    for raw in (PLAIN, MULTIPART, NESTED):
        store.deliver(raw)
    return login


@pytest.fixture
def store(login: MemoryMailLogin) -> MemoryMailStore:
    return login.stores[ADDRESS][0]


@pytest.fixture
async def pop3(login: MemoryMailLogin) -> AsyncIterator[RunningPop3]:
    async with running_pop3(login) as running:
        yield running


class RawPop3(poplib.POP3):
    """poplib with a way to send a command it has no method for (AUTH PLAIN, STLS by hand)."""

    def raw_command(self, line: str) -> bytes:
        reply: bytes = self._shortcmd(line)  # type: ignore[attr-defined]
        return reply


def client_of(pop3: RunningPop3) -> poplib.POP3:
    client = poplib.POP3(pop3.host, pop3.port, timeout=WAIT_SECONDS)
    client.user(ADDRESS)
    client.pass_(PASSWORD)
    return client


def inbox_uids(store: MemoryMailStore) -> list[int]:
    return sorted(store.folder("INBOX").messages)


def flags_of(store: MemoryMailStore, uid: int) -> frozenset[str]:
    return store.folder("INBOX").messages[uid].meta.flags


async def test_poplib_reads_the_maildrop(pop3: RunningPop3, store: MemoryMailStore) -> None:
    uidvalidity = store.folder("INBOX").uidvalidity

    def session() -> None:
        client = client_of(pop3)
        assert client.stat() == (3, len(PLAIN) + len(MULTIPART) + len(NESTED))
        _, listing, _ = client.list()
        assert listing == [f"{n} {len(raw)}".encode() for n, raw in enumerate((PLAIN, MULTIPART, NESTED), 1)]
        assert cast(bytes, client.list(2)).split() == [b"+OK", b"2", str(len(MULTIPART)).encode()]
        _, uids, _ = client.uidl()
        assert uids == [f"{n} {uidvalidity}.{n}".encode() for n in (1, 2, 3)]
        assert client.uidl(3).split()[2] == f"{uidvalidity}.3".encode()
        _, lines, octets = client.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == PLAIN and octets == len(PLAIN)
        _, top, _ = client.top(3, 1)
        assert b"\r\n".join(top) == NESTED[: NESTED.index(b"\r\n\r\n")] + b"\r\n\r\n--outer"
        assert client.quit().startswith(b"+OK")

    await asyncio.to_thread(session)
    assert inbox_uids(store) == [1, 2, 3]


async def test_retr_sends_the_listed_octets_dot_stuffed(
    login: MemoryMailLogin, store: MemoryMailStore
) -> None:
    store.deliver(DOTTED)
    async with running_pop3(login) as pop3:
        wire = await Pop3Wire.connect(pop3)
        assert (await wire.login(ADDRESS, PASSWORD)).startswith(b"+OK Logged in, 4 messages")
        assert await wire.command(b"LIST 4") == f"+OK 4 {len(DOTTED)}\r\n".encode()
        status, body = await wire.multiline(b"RETR 4")
        assert status == f"+OK {len(DOTTED)} octets\r\n".encode()
        assert body == (
            b"From: dots@example.org\r\nSubject: dots\r\n\r\n"
            b"..starts with a dot\r\n...two dots\r\n..\r\nmiddle . dot\r\n..\r\n"
        )
        await wire.close()


async def test_every_message_of_a_long_maildrop_is_retrieved_whole(
    login: MemoryMailLogin, store: MemoryMailStore
) -> None:
    extra = [numbered(index, size=index * 40) for index in range(250)]
    for raw in extra:
        store.deliver(raw)
    async with running_pop3(login) as pop3:

        def session() -> list[bytes]:
            client = client_of(pop3)
            client.dele(10)
            got = [b"\r\n".join(client.retr(number)[1]) + b"\r\n" for number in range(4, 254) if number != 10]
            client.quit()
            return got

        got = await asyncio.to_thread(session)
    assert got == [raw for index, raw in enumerate(extra) if index != 6]


async def test_retr_marks_seen_and_top_does_not(pop3: RunningPop3, store: MemoryMailStore) -> None:
    def session() -> None:
        client = client_of(pop3)
        client.top(1, 0)
        client.retr(2)
        client.quit()

    await asyncio.to_thread(session)
    assert "\\Seen" not in flags_of(store, 1)
    assert "\\Seen" in flags_of(store, 2)


async def test_a_session_ended_without_quit_marks_what_it_retrieved_seen(
    pop3: RunningPop3, store: MemoryMailStore
) -> None:
    watch = MemoryMailSession(store).watch()
    wire = await Pop3Wire.connect(pop3)
    await wire.login(ADDRESS, PASSWORD)
    await wire.multiline(b"RETR 3")
    await wire.command(b"DELE 3")
    await wire.close()
    await asyncio.wait_for(anext(aiter(watch)), WAIT_SECONDS)
    watch.close()
    assert "\\Seen" in flags_of(store, 3)
    assert inbox_uids(store) == [1, 2, 3]


async def test_a_stop_ends_a_session_waiting_for_a_command_as_if_cut_marking_what_it_retrieved_seen(
    login: MemoryMailLogin, store: MemoryMailStore
) -> None:
    server = await start_pop3(login, Pop3Options(port=0, allow_plaintext_auth=True))
    host, port = server.sockets[0].getsockname()[:2]
    try:
        wire = await Pop3Wire.connect(RunningPop3(host, port, Pop3Options()))
        await wire.login(ADDRESS, PASSWORD)
        await wire.multiline(b"RETR 3")
        await wire.command(b"DELE 2")
        server.close()
        stopping = asyncio.create_task(server.end_connections(WAIT_SECONDS))

        assert await wire.line() == b"-ERR [SYS/TEMP] Server shutting down.\r\n"
        assert await wire.closed()
        await wire.close()
        await asyncio.wait_for(stopping, WAIT_SECONDS)
    finally:
        server.close()
        await server.wait_closed()
    assert "\\Seen" in flags_of(store, 3), "marked before the stop ends"
    assert inbox_uids(store) == [1, 2, 3], "no UPDATE"


async def test_dele_and_quit_expunge_and_a_new_session_sees_the_rest(
    pop3: RunningPop3, store: MemoryMailStore
) -> None:
    watch = MemoryMailSession(store).watch()

    def first() -> None:
        client = client_of(pop3)
        client.dele(1)
        client.dele(3)
        assert client.stat() == (1, len(MULTIPART))
        with pytest.raises(poplib.error_proto, match="deleted"):
            client.retr(1)
        assert client.list()[1] == [f"2 {len(MULTIPART)}".encode()]
        assert client.quit() == b"+OK Logging out, 2 messages deleted, 1 left."

    await asyncio.to_thread(first)
    assert inbox_uids(store) == [2]
    assert sorted(store.folder("INBOX").expunged) == [1, 3]
    assert await asyncio.wait_for(anext(aiter(watch)), WAIT_SECONDS) == store.folder("INBOX").folder_id
    watch.close()

    def second() -> None:
        client = client_of(pop3)
        assert client.stat() == (1, len(MULTIPART))
        assert client.uidl(1).split()[2].endswith(b".2")
        client.quit()

    await asyncio.to_thread(second)


async def test_rset_unmarks_and_a_dropped_connection_deletes_nothing(
    pop3: RunningPop3, store: MemoryMailStore
) -> None:
    wire = await Pop3Wire.connect(pop3)
    await wire.login(ADDRESS, PASSWORD)
    assert await wire.command(b"DELE 1") == b"+OK Message 1 marked to be deleted.\r\n"
    assert await wire.command(b"DELE 1") == b"-ERR Message 1 is deleted.\r\n"
    assert (
        await wire.command(b"RSET")
        == f"+OK Maildrop has 3 messages ({store.used_bytes()} octets).\r\n".encode()
    )
    assert await wire.command(b"DELE 2") == b"+OK Message 2 marked to be deleted.\r\n"
    await wire.close()

    wire = await Pop3Wire.connect(pop3)  # also shows the lock was released
    assert (await wire.login(ADDRESS, PASSWORD)).startswith(b"+OK Logged in, 3 messages")
    assert await wire.command(b"QUIT") == b"+OK Logging out, 0 messages deleted, 3 left.\r\n"
    assert inbox_uids(store) == [1, 2, 3]


async def test_only_messages_deleted_over_pop3_are_expunged(
    pop3: RunningPop3, store: MemoryMailStore
) -> None:
    imap = MemoryMailSession(store)
    folder_id = store.folder("INBOX").folder_id
    await imap.store_flags(folder_id, [3], FlagChange.ADD, frozenset({"\\Deleted"}))
    wire = await Pop3Wire.connect(pop3)
    await wire.login(ADDRESS, PASSWORD)
    await wire.command(b"DELE 1")
    assert (await wire.command(b"QUIT")).startswith(b"+OK")
    assert inbox_uids(store) == [2, 3]


async def test_the_maildrop_is_a_snapshot_taken_at_login(pop3: RunningPop3, store: MemoryMailStore) -> None:
    wire = await Pop3Wire.connect(pop3)
    await wire.login(ADDRESS, PASSWORD)
    store.deliver(PLAIN)
    await MemoryMailSession(store).store_flags(
        store.folder("INBOX").folder_id, [2], FlagChange.ADD, frozenset({"\\Deleted"})
    )
    await MemoryMailSession(store).expunge(store.folder("INBOX").folder_id)
    assert (await wire.command(b"STAT")).startswith(b"+OK 3 ")
    assert await wire.command(b"RETR 2") == b"-ERR Message 2 was removed by another session.\r\n"
    assert await wire.command(b"QUIT") == b"+OK Logging out, 0 messages deleted, 3 left.\r\n"

    wire = await Pop3Wire.connect(pop3)
    await wire.login(ADDRESS, PASSWORD)
    status, body = await wire.multiline(b"UIDL")
    assert status == b"+OK\r\n"
    assert [line.split()[1].split(b".")[1] for line in body.splitlines()] == [b"1", b"3", b"4"]
    await wire.close()


async def test_auth_plain_with_an_initial_response_or_a_continuation(pop3: RunningPop3) -> None:
    credentials = base64.b64encode(f"\0{ADDRESS}\0{PASSWORD}".encode())

    wire = await Pop3Wire.connect(pop3)
    assert (await wire.command(b"AUTH PLAIN " + credentials)).startswith(b"+OK Logged in")
    await wire.close()

    def continued() -> None:
        client = RawPop3(pop3.host, pop3.port, timeout=WAIT_SECONDS)
        assert client.raw_command("AUTH PLAIN") == b"+ "
        assert client.raw_command(credentials.decode()).startswith(b"+OK Logged in")
        client.quit()

    await asyncio.to_thread(continued)

    wire = await Pop3Wire.connect(pop3)
    assert await wire.multiline(b"AUTH") == (b"+OK Supported mechanisms follow.\r\n", b"PLAIN\r\n")
    assert await wire.command(b"AUTH PLAIN") == b"+ \r\n"
    assert await wire.command(b"*") == b"-ERR Authentication cancelled.\r\n"
    assert await wire.command(b"AUTH PLAIN !!!") == b"-ERR Invalid base64 data.\r\n"
    wrong = base64.b64encode(f"other\0{ADDRESS}\0{PASSWORD}".encode())
    assert await wire.command(b"AUTH PLAIN " + wrong) == b"-ERR [AUTH] Authentication failed.\r\n"
    assert await wire.command(b"AUTH CRAM-MD5") == b"-ERR Unsupported authentication mechanism.\r\n"
    assert await wire.command(b"AUTH PLAIN =") == b"-ERR [AUTH] Authentication failed.\r\n"
    await wire.close()


async def test_wrong_passwords_are_refused_then_rate_limited(pop3: RunningPop3) -> None:
    wire = await Pop3Wire.connect(pop3)
    assert await wire.command(b"PASS x") == b"-ERR USER first.\r\n"
    for _ in range(5):
        assert (await wire.login(ADDRESS, "wrong")).startswith(b"-ERR [AUTH] Authentication failed")
    assert (await wire.login(ADDRESS, PASSWORD)).startswith(b"-ERR [LOGIN-DELAY] ")
    assert (await wire.command(b"STAT")).startswith(b"-ERR Log in first")
    await wire.close()


async def test_a_second_session_on_the_mailbox_is_in_use(pop3: RunningPop3) -> None:
    first = await Pop3Wire.connect(pop3)
    assert (await first.login(ADDRESS, PASSWORD)).startswith(b"+OK")
    second = await Pop3Wire.connect(pop3)
    assert (await second.login("agent", PASSWORD)).startswith(b"-ERR [IN-USE] ")
    assert await first.command(b"QUIT") == b"+OK Logging out, 0 messages deleted, 3 left.\r\n"
    assert await first.closed()
    assert (await second.login(ADDRESS, PASSWORD)).startswith(b"+OK Logged in")
    await second.close()


async def test_a_login_refused_as_in_use_lets_go_of_its_session(
    pop3: RunningPop3, login: MemoryMailLogin
) -> None:
    first = await Pop3Wire.connect(pop3)
    assert (await first.login(ADDRESS, PASSWORD)).startswith(b"+OK")
    second = await Pop3Wire.connect(pop3)

    assert (await second.login(ADDRESS, PASSWORD)).startswith(b"-ERR [IN-USE] ")

    assert [session.ended for session in login.sessions] == [False, True]
    await first.close()
    await second.close()


async def test_a_revoked_session_is_closed_and_changes_nothing(
    pop3: RunningPop3, store: MemoryMailStore
) -> None:
    wire = await Pop3Wire.connect(pop3)
    assert (await wire.login(ADDRESS, PASSWORD)).startswith(b"+OK")
    status, _ = await wire.multiline(b"RETR 1")
    assert status.startswith(b"+OK")

    store.revoke(AuthenticationFailed("the mailbox's credentials were changed"))

    assert await wire.line() == b"-ERR [AUTH] Access revoked: the mailbox's credentials were changed.\r\n"
    assert await wire.closed()
    assert not [m for m in store.folder("INBOX").messages.values() if "\\Seen" in m.meta.flags]
    await wire.close()


async def test_bad_commands_get_an_error_and_the_session_goes_on(pop3: RunningPop3) -> None:
    wire = await Pop3Wire.connect(pop3)
    assert await wire.command(b"HELLO") == b"-ERR Unknown command.\r\n"
    assert await wire.command(b"") == b"-ERR Empty command.\r\n"
    assert await wire.command(b"NOOP") == b"-ERR Log in first (USER and PASS, or AUTH PLAIN).\r\n"
    assert await wire.command(b"STLS") == b"-ERR STLS is not available.\r\n"
    assert await wire.command(b"USER a  b") == (
        b"-ERR Arguments are separated by single spaces and at most 255 characters long.\r\n"
    )
    assert await wire.command(b"USER " + b"a" * LINE_LIMIT) == b"-ERR Line too long.\r\n"
    await wire.login(ADDRESS, PASSWORD)
    assert await wire.command(b"RETR") == b"-ERR RETR takes 1 argument.\r\n"
    assert await wire.command(b"RETR 0") == b"-ERR Invalid message number: 0\r\n"
    assert await wire.command(b"RETR -1") == b"-ERR Invalid message number: -1\r\n"
    assert await wire.command(b"RETR 4") == b"-ERR There's no message 4.\r\n"
    assert await wire.command(b"TOP 1") == b"-ERR TOP takes 2 arguments.\r\n"
    assert await wire.command(b"LIST 1 2") == b"-ERR LIST takes 0 to 1 arguments.\r\n"
    assert await wire.command(b"USER agent") == b"-ERR Command not valid in the TRANSACTION state.\r\n"
    assert await wire.command(b"retr \xff") == b"-ERR Command is not valid UTF-8.\r\n"
    assert await wire.command(b"noop") == b"+OK\r\n"
    await wire.close()


async def test_too_many_invalid_commands_end_the_connection(pop3: RunningPop3) -> None:
    wire = await Pop3Wire.connect(pop3)
    for _ in range(MAX_INVALID_COMMANDS - 1):
        assert await wire.command(b"BOGUS") == b"-ERR Unknown command.\r\n"
    assert await wire.command(b"BOGUS") == b"-ERR Too many invalid commands.\r\n"
    assert await wire.closed()


async def test_an_idle_connection_is_closed_without_update(
    login: MemoryMailLogin, store: MemoryMailStore
) -> None:
    async with running_pop3(login, policy=replace(listener_policy(), idle_timeout_seconds=0.2)) as pop3:
        wire = await Pop3Wire.connect(pop3)
        await wire.login(ADDRESS, PASSWORD)
        await wire.command(b"DELE 1")
        assert await wire.line() == b"-ERR Disconnected for inactivity.\r\n"
        assert await wire.closed()
    assert inbox_uids(store) == [1, 2, 3]


async def test_connections_over_the_limit_are_refused(login: MemoryMailLogin) -> None:
    async with running_pop3(login, policy=replace(listener_policy(), limits=ConnectionLimits(1, 1))) as pop3:
        first = await Pop3Wire.connect(pop3)
        second = await Pop3Wire.connect(pop3)
        assert second.greeting == b"-ERR [SYS/TEMP] Too many connections, try again later.\r\n"
        assert await second.closed()
        await first.command(b"QUIT")
        assert await first.closed()
        third = await Pop3Wire.connect(pop3)
        assert third.greeting == b"+OK pop.agents.test POP3 ready.\r\n"
        await third.close()


async def test_capabilities_follow_the_state(pop3: RunningPop3) -> None:
    wire = await Pop3Wire.connect(pop3)
    assert wire.greeting == b"+OK pop.agents.test POP3 ready.\r\n"
    status, body = await wire.multiline(b"CAPA")
    assert status == b"+OK Capability list follows.\r\n"
    assert body.split(b"\r\n")[:-1] == [
        b"TOP",
        b"UIDL",
        b"RESP-CODES",
        b"AUTH-RESP-CODE",
        b"PIPELINING",
        b"USER",
        b"SASL PLAIN",
    ]
    await wire.login(ADDRESS, PASSWORD)
    _, body = await wire.multiline(b"CAPA")
    assert body.split(b"\r\n")[:-1] == [b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING"]
    await wire.close()


async def test_pipelined_commands_are_answered_in_order(pop3: RunningPop3) -> None:
    wire = await Pop3Wire.connect(pop3)
    wire.writer.write(f"USER {ADDRESS}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST 1\r\nQUIT\r\n".encode())
    replies = [await wire.line() for _ in range(5)]
    assert [reply[:3] for reply in replies] == [b"+OK"] * 5
    assert replies[3] == f"+OK 1 {len(PLAIN)}\r\n".encode()
    assert await wire.closed()


def tls_contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    return server_context, ssl.create_default_context(cafile=str(cert))


async def test_without_tls_passwords_are_refused_until_stls(login: MemoryMailLogin, tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    async with running_pop3(login, tls_context=server_context, allow_plaintext_auth=False) as pop3:

        def session() -> None:
            client = RawPop3("localhost", pop3.port, timeout=WAIT_SECONDS)
            assert set(client.capa()) == {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"}
            with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Plaintext authentication disallowed"):
                client.user(ADDRESS)
            with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Plaintext authentication disallowed"):
                client.raw_command(
                    "AUTH PLAIN " + base64.b64encode(f"\0{ADDRESS}\0{PASSWORD}".encode()).decode()
                )
            client.stls(client_context)
            assert "USER" in client.capa() and "STLS" not in client.capa()
            with pytest.raises(poplib.error_proto, match="TLS is already active"):
                client.raw_command("STLS")
            client.user(ADDRESS)
            client.pass_(PASSWORD)
            assert client.stat()[0] == 3
            client.quit()

        await asyncio.to_thread(session)


async def test_implicit_tls_listener(login: MemoryMailLogin, tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    async with running_pop3(login, implicit_tls=server_context, allow_plaintext_auth=False) as pop3:

        def session() -> None:
            client = poplib.POP3_SSL("localhost", pop3.port, context=client_context, timeout=WAIT_SECONDS)
            client.user(ADDRESS)
            client.pass_(PASSWORD)
            assert b"\r\n".join(client.retr(1)[1]) + b"\r\n" == PLAIN
            client.quit()

        await asyncio.to_thread(session)


lines = st.lists(
    st.one_of(
        st.binary(max_size=40).map(lambda data: data.replace(b"\n", b"")),
        st.sampled_from(
            [b"RETR", b"TOP", b"LIST", b"UIDL", b"DELE", b"STAT", b"RSET", b"NOOP", b"AUTH", b"CAPA"]
        ).flatmap(
            lambda name: st.lists(
                st.sampled_from([b"0", b"1", b"3", b"4", b"-1", b"x", b"", b"PLAIN", b"99999999999"]),
                max_size=3,
            ).map(lambda arguments: b" ".join([name, *arguments]))
        ),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines)
def test_any_command_sequence_gets_answers_and_never_an_internal_error(sequence: list[bytes]) -> None:
    async def session() -> bytes:
        login = MemoryMailLogin()
        store = login.add_mailbox(ADDRESS, PASSWORD)
        for raw in (PLAIN, DOTTED):
            store.deliver(raw)
        async with running_pop3(login) as pop3:
            reader, writer = await asyncio.open_connection(pop3.host, pop3.port)
            writer.write(f"USER {ADDRESS}\r\nPASS {PASSWORD}\r\n".encode())
            writer.write(b"".join(line + b"\r\n" for line in sequence) + b"QUIT\r\n")
            received = await asyncio.wait_for(reader.read(), WAIT_SECONDS)
            writer.close()
            return received

    received = asyncio.run(session())
    assert b"Internal error" not in received
    assert received.endswith((b" left.\r\n", b"-ERR Too many invalid commands.\r\n")), received[-200:]


async def test_a_client_that_stops_reading_is_cut_off_and_frees_the_mailbox(
    login: MemoryMailLogin, store: MemoryMailStore
) -> None:
    store.deliver(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 16_000)
    async with running_pop3(login, policy=replace(listener_policy(), idle_timeout_seconds=0.5)) as pop3:
        stalled = await Pop3Wire.connect(pop3)
        await stalled.login(ADDRESS, PASSWORD)
        stalled.writer.write(b"RETR 4\r\n")  # and never read the 16 MB

        async def logs_in() -> bytes:
            while True:
                other = await Pop3Wire.connect(pop3)
                reply = await other.login(ADDRESS, PASSWORD)
                await other.close()
                if not reply.startswith(b"-ERR [IN-USE]"):
                    return reply
                await asyncio.sleep(0.1)

        assert (await asyncio.wait_for(logs_in(), WAIT_SECONDS)).startswith(b"+OK Logged in")
        stalled.writer.close()
