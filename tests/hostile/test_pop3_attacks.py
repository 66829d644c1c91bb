"""Attacks on the POP3 listener of a served process: each is refused and a legitimate client goes on
reading its mail meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.hostile.attacker import ATTACK_ADDRESSES, RawConnection, close_all, open_greeted
from tests.hostile.conftest import LOGIN_TIMEOUT_SECONDS
from tests.hostile.legitimate import reads_over_pop3
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

TOO_MANY = b"-ERR [SYS/TEMP] Too many connections, try again later.\r\n"
SUBJECT = b"Subject: Still here"


async def test_one_address_gets_only_its_share_of_connections(
    served: ServerProcess, mailbox: dict[str, Any]
) -> None:
    attacker = ATTACK_ADDRESSES[0]
    held, greetings = await open_greeted(served.pop3_port, [attacker], 5, accepted=5)
    try:
        assert [g[:3] for g in greetings] == [b"+OK"] * 5
        refused = await RawConnection.open(served.pop3_port, attacker)
        assert await refused.line() == TOO_MANY
        assert await refused.closed_by_server()
        assert SUBJECT in await reads_over_pop3(served.pop3_port, mailbox)
    finally:
        close_all(held)


async def test_connections_in_total_are_capped_and_imap_keeps_working(
    served: ServerProcess, mailbox: dict[str, Any]
) -> None:
    held, greetings = await open_greeted(served.pop3_port, ATTACK_ADDRESSES, 5, accepted=60)
    try:
        assert sum(g.startswith(b"+OK") for g in greetings) == 60
        assert greetings.count(TOO_MANY) == len(held) - 60
        imap = await RawConnection.open(served.imap_port)
        assert (await imap.line()).startswith(b"* OK")
        imap.close()
    finally:
        close_all(held)


async def test_a_client_that_does_not_log_in_is_cut_off_while_logged_in_clients_stay(
    impatient: ServerProcess, impatient_mailbox: dict[str, Any]
) -> None:
    patient = await RawConnection.open(impatient.pop3_port)
    assert (await patient.line()).startswith(b"+OK")
    await patient.send(b"USER " + impatient_mailbox["email"].encode() + b"\r\n")
    assert await patient.line() == b"+OK\r\n"
    await patient.send(b"PASS " + impatient_mailbox["password"].encode() + b"\r\n")
    assert (await patient.line()).startswith(b"+OK Logged in")
    trickler = await RawConnection.open(impatient.pop3_port, ATTACK_ADDRESSES[1])
    assert (await trickler.line()).startswith(b"+OK")
    started = asyncio.get_running_loop().time()
    last = b""
    async with asyncio.timeout(LOGIN_TIMEOUT_SECONDS * 10):
        while not last.startswith(b"-ERR Login"):
            await trickler.send(b"NOOP\r\n")
            last = await trickler.line()
    assert last == b"-ERR Login timed out.\r\n"
    assert asyncio.get_running_loop().time() - started >= LOGIN_TIMEOUT_SECONDS * 0.9
    assert await trickler.closed_by_server()
    await patient.send(b"STAT\r\n")
    assert (await patient.line()).startswith(b"+OK 1 ")
    patient.close()
