"""Login throttling as `mailservice serve` runs it, over real sockets from several loopback addresses:
failures fall on the address that makes them, the owner from another address always gets in, and
parallel attempts from one address are held to its allowance whatever the mechanism."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from mailservice.config import Settings
from tests.e2e.test_imap_served import paid_credentials
from tests.support.databases import create_empty_postgres_database, drop_postgres_database
from tests.support.imap_wire import Wire
from tests.support.pop3 import Pop3Wire
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

DEFAULTS = Settings(_env_file=None)
PER_ADDRESS = DEFAULTS.login_failures_per_ip
PER_ADDRESS_AND_LOGIN = DEFAULTS.login_failures_per_ip_and_login
MECHANISMS = ("imap-login", "imap-authenticate", "pop3-user-pass", "pop3-auth-plain")
OUTCOMES = {
    b"t OK": "ok",
    b"t NO [AUTHENTICATIONFAILED]": "failed",
    b"t NO [UNAVAILABLE]": "throttled",
    b"+OK": "ok",
    b"-ERR [AUTH]": "failed",
    b"-ERR [LOGIN-DELAY]": "throttled",
}

Reply = Callable[[], Awaitable[str]]
# Room for 300 connections from one address, so that only the login throttle decides.
ROOM_FOR_300 = {"IMAP_MAX_CONNECTIONS_PER_IP": "400", "POP3_MAX_CONNECTIONS_PER_IP": "400"}


@pytest.fixture(params=["sqlite", "postgresql"])
def roomy_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    sqlite = request.param == "sqlite"
    dsn = str(tmp_path / "data" / "mailservice.db") if sqlite else create_empty_postgres_database()
    process = ServerProcess(tmp_path, dsn, extra_env=ROOM_FOR_300)
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()
    if not sqlite:
        drop_postgres_database(dsn)


def _outcome(reply: bytes) -> str:
    for prefix, outcome in OUTCOMES.items():
        if reply.startswith(prefix):
            return outcome
    raise AssertionError(f"unexpected reply {reply!r}")


async def _imap(server: ServerProcess, source: str) -> Wire:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.imap_port, local_addr=(source, 0))
    wire = Wire(reader, writer)
    wire.greeting = await wire.line()
    return wire


async def _pop3(server: ServerProcess, source: str) -> Pop3Wire:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.pop3_port, local_addr=(source, 0))
    wire = Pop3Wire(reader, writer)
    wire.greeting = await wire.line()
    return wire


async def ready_login(
    server: ServerProcess, source: str, mechanism: str, username: str, password: str
) -> Reply:
    """Connect from `source` and prepare a login; the returned call sends its last line and classifies
    the reply, so many prepared logins can reach the server at the same moment."""
    plain = base64.b64encode(f"\0{username}\0{password}".encode())
    if mechanism.startswith("imap"):
        imap = await _imap(server, source)
        imap_line = (
            f'LOGIN "{username}" "{password}"'.encode()
            if mechanism == "imap-login"
            else b"AUTHENTICATE PLAIN " + plain
        )

        async def imap_reply() -> str:
            lines = await imap.command(imap_line)
            await imap.close()
            return _outcome(lines[-1])

        return imap_reply
    pop3 = await _pop3(server, source)
    if mechanism == "pop3-user-pass":
        assert (await pop3.command(f"USER {username}".encode())).startswith(b"+OK")
    pop3_line = f"PASS {password}".encode() if mechanism == "pop3-user-pass" else b"AUTH PLAIN " + plain

    async def pop3_reply() -> str:
        reply = await pop3.command(pop3_line)
        await pop3.close()
        return _outcome(reply)

    return pop3_reply


async def log_in(server: ServerProcess, source: str, mechanism: str, username: str, password: str) -> str:
    reply = await ready_login(server, source, mechanism, username, password)
    return await reply()


async def test_wrong_passwords_from_three_addresses_do_not_lock_the_owner_out(server: ServerProcess) -> None:
    # given: 30 wrong passwords for the owner's public address, 10 from each of three addresses
    credentials = await paid_credentials(server)
    email, password = credentials["email"], credentials["password"]
    attackers = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    attacks = {
        attacker: [await log_in(server, attacker, MECHANISMS[i % 4], email, "wrong") for i in range(10)]
        for attacker in attackers
    }

    # when: the owner logs in from a clean address, and an attacker tries the right password
    owner = [await log_in(server, "127.0.0.5", mechanism, email, password) for mechanism in MECHANISMS]
    attacker = [await log_in(server, attackers[0], mechanism, email, password) for mechanism in MECHANISMS]

    # then: the owner gets in with every mechanism
    assert owner == ["ok"] * 4
    # and each attacking address was checked up to its allowance for this login, then throttled
    expected = ["failed"] * PER_ADDRESS_AND_LOGIN + ["throttled"] * (10 - PER_ADDRESS_AND_LOGIN)
    assert attacks == dict.fromkeys(attackers, expected)
    # and stays throttled over every mechanism, even with the right password
    assert attacker == ["throttled"] * 4


async def _parallel_wrong_logins(server: ServerProcess, source: str, usernames: list[str]) -> Counter[str]:
    replies = [
        await ready_login(server, source, MECHANISMS[i % 4], username, "wrong")
        for i, username in enumerate(usernames)
    ]
    return Counter(await asyncio.gather(*(reply() for reply in replies)))


async def test_parallel_wrong_logins_from_one_address_are_held_to_its_allowance(
    roomy_server: ServerProcess,
) -> None:
    server = roomy_server
    # given: a real mailbox, so that wrong passwords for it are checked against the store
    email = (await paid_credentials(server))["email"]

    # when: 300 wrong logins for one mailbox arrive at once from one address, over all four mechanisms
    one_login = await _parallel_wrong_logins(server, "127.0.0.6", [email] * 300)
    # and 300 for 300 different logins from another address
    many_logins = [email] + [f"mbx_{secrets.token_hex(6)}@agents.test" for _ in range(299)]
    spread = await _parallel_wrong_logins(server, "127.0.0.7", many_logins)

    # then: only the allowance was checked; every other attempt was refused before its password was
    assert one_login == Counter({"failed": PER_ADDRESS_AND_LOGIN, "throttled": 300 - PER_ADDRESS_AND_LOGIN})
    assert spread == Counter({"failed": PER_ADDRESS, "throttled": 300 - PER_ADDRESS})
