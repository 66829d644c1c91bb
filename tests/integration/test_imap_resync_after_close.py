"""QRESYNC after CLOSE, against the real store: SELECT (QRESYNC ...) reports every uid expunged since
the client's modseq, by any session, after a CLOSE of the same folder by this connection."""

from __future__ import annotations

import asyncio
import re

import httpx

from mailservice.bootstrap import Runtime
from mailservice.protocols.imap.options import ImapOptions
from mailservice.protocols.imap.server import start_imap
from tests.support.agent import claim_and_pay
from tests.support.imap_wire import Wire
from tests.support.keys import AgentKey
from tests.support.mail import text_message


async def test_qresync_select_after_close_reports_what_others_expunged_meanwhile(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    address, password = str(details["email"]), str(details["password"])
    session = await runtime.services.mail_access.login(address, password, "127.0.0.1")
    for subject in ("a", "b", "c"):
        raw = text_message("someone@example.org", subject=subject).replace(b"\n", b"\r\n")
        await session.append("INBOX", raw, frozenset(), None)
    server = await start_imap(runtime.services.mail_access, ImapOptions(port=0, allow_plaintext_auth=True))
    port = server.sockets[0].getsockname()[1]
    wires: list[Wire] = []
    try:
        for _ in range(2):
            wire = Wire(*await asyncio.open_connection("127.0.0.1", port))
            wire.greeting = await wire.line()
            assert (await wire.command(f"LOGIN {address} {password}".encode()))[-1].startswith(b"t OK")
            wires.append(wire)
        first, second = wires
        await first.command(b"ENABLE QRESYNC")
        selected = b"".join(await first.command(b"SELECT INBOX"))
        uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", selected).group(1))  # type: ignore[union-attr]
        stored = b"".join(await first.command(b"UID STORE 1 +FLAGS (\\Deleted)"))
        known = int(re.search(rb"MODSEQ \((\d+)\)", stored).group(1))  # type: ignore[union-attr]
        assert (await first.command(b"CLOSE"))[-1].startswith(b"t OK")
        await second.command(b"SELECT INBOX")
        await second.command(b"UID STORE 2 +FLAGS.SILENT (\\Deleted)")
        assert (await second.command(b"EXPUNGE"))[-1].startswith(b"t OK")

        again = await first.command(b"SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, known))

        assert b"* VANISHED (EARLIER) 1:2\r\n" in again, again
    finally:
        for wire in wires:
            await wire.close()
        server.close()
        await server.wait_closed()
