"""What a legitimate client does while an attack runs: log in and read its message (imaplib, poplib)."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
from typing import Any

from tests.e2e.test_imap_served import client_tls, read_first_message


async def reads_over_imap(port: int, credentials: dict[str, Any]) -> bytes:
    def read() -> bytes:
        with imaplib.IMAP4("127.0.0.1", port, timeout=10) as imap:
            return read_first_message(imap, credentials)

    return await asyncio.to_thread(read)


async def reads_over_imaps(port: int, credentials: dict[str, Any]) -> bytes:
    def read() -> bytes:
        with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_tls(), timeout=10) as imap:
            return read_first_message(imap, credentials)

    return await asyncio.to_thread(read)


async def reads_over_pop3(port: int, credentials: dict[str, Any]) -> bytes:
    def read() -> bytes:
        client = poplib.POP3("127.0.0.1", port, timeout=10)
        client.user(credentials["email"])
        client.pass_(credentials["password"])
        _, lines, _ = client.retr(1)
        client.quit()
        return b"\r\n".join(lines)

    return await asyncio.to_thread(read)
