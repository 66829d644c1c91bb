"""The POP3 connection's limits over the in-memory mailbox: the per-address cap, the login deadline
and a line the process budget cannot hold."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace

from mailservice.protocols.connection_policy import ConnectionLimits, MemoryBudget
from mailservice.protocols.pop3.options import listener_policy
from tests.support.memory_mail_session import MemoryMailLogin
from tests.support.pop3 import Pop3Wire, running_pop3

ADDRESS = "agent@agents.test"
PASSWORD = "derived-password"
TOO_MANY = b"-ERR [SYS/TEMP] Too many connections, try again later.\r\n"


def login_with_mailbox() -> MemoryMailLogin:
    login = MemoryMailLogin()
    login.add_mailbox(ADDRESS, PASSWORD)
    return login


async def test_one_address_gets_only_its_share_while_others_connect() -> None:
    policy = replace(listener_policy(), limits=ConnectionLimits(10, 2))
    async with running_pop3(login_with_mailbox(), policy=policy) as pop3:
        held = [await Pop3Wire.connect(pop3) for _ in range(2)]
        refused = await Pop3Wire.connect(pop3)
        assert refused.greeting == TOO_MANY
        assert await refused.closed()
        reader, writer = await asyncio.open_connection(pop3.host, pop3.port, local_addr=("127.0.0.2", 0))
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"+OK")
        writer.close()
        for wire in held:
            wire.writer.close()


async def test_a_client_not_logged_in_by_the_deadline_is_disconnected_however_busy() -> None:
    policy = replace(listener_policy(), login_timeout_seconds=0.3)
    async with running_pop3(login_with_mailbox(), policy=policy) as pop3:
        wire = await Pop3Wire.connect(pop3)
        replies: list[bytes] = []
        async with asyncio.timeout(5):
            while not replies or replies[-1].startswith(b"+OK"):
                replies.append(await wire.command(b"CAPA"))
                if replies[-1].startswith(b"+OK"):
                    while await wire.line() != b".\r\n":
                        pass
        assert replies[-1] == b"-ERR Login timed out.\r\n"
        assert len(replies) > 1
        assert await wire.closed()


async def test_sasl_plain_logs_in_through_the_shared_decoder() -> None:
    async with running_pop3(login_with_mailbox()) as pop3:
        wire = await Pop3Wire.connect(pop3)
        token = base64.b64encode(f"\x00{ADDRESS}\x00{PASSWORD}".encode())
        assert (await wire.command(b"AUTH PLAIN " + token)).startswith(b"+OK Logged in")
        other = base64.b64encode(f"someone\x00{ADDRESS}\x00{PASSWORD}".encode())
        second = await Pop3Wire.connect(pop3)
        assert await second.command(b"AUTH PLAIN " + other) == b"-ERR [AUTH] Authentication failed.\r\n"
        wire.writer.close()
        second.writer.close()


async def test_a_line_the_process_budget_cannot_hold_gets_a_temporary_error() -> None:
    policy = replace(listener_policy(), memory=MemoryBudget(0))
    async with running_pop3(login_with_mailbox(), policy=policy) as pop3:
        wire = await Pop3Wire.connect(pop3)
        assert await wire.command(b"CAPA") == b"-ERR [SYS/TEMP] Server is busy, try again later.\r\n"
        wire.writer.close()
