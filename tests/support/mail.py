"""Mail-side test helpers: paid mailboxes, messages, SMTP sending, and reading what the store holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from sqlalchemy import select

from mailservice.adapters.db.tables import mailboxes, message_raw, messages
from mailservice.bootstrap import Runtime, start_access_listeners, start_mail_listeners
from mailservice.config import parse_listen_address
from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey


@dataclass(frozen=True)
class PaidMailbox:
    id: str
    address: str
    login: str


async def paid_mailbox(client: httpx.AsyncClient) -> PaidMailbox:
    details = await claim_and_pay(client, AgentKey.generate())
    return PaidMailbox(str(details["mailbox_id"]), str(details["email"]), str(details["username"]))


def text_message(
    to: str, subject: str = "Hello", body: str = "Hi there.\n", sender: str = "a@example.org"
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@example.org>"
    message.set_content(body)
    return message.as_bytes()


@asynccontextmanager
async def mail_listeners(runtime: Runtime) -> AsyncIterator[tuple[int, int]]:
    """Start SMTP and LMTP on the runtime's configured ports; yields (smtp_port, lmtp_port)."""
    servers = await start_mail_listeners(runtime)
    try:
        smtp_port = parse_listen_address(runtime.settings.smtp_listen_addr, "SMTP_ADDR")[1]
        lmtp_port = parse_listen_address(runtime.settings.lmtp_addr or "", "LMTP_ADDR")[1]
        yield smtp_port, lmtp_port
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


@asynccontextmanager
async def access_listeners(runtime: Runtime) -> AsyncIterator[tuple[int, int]]:
    """Start IMAP and POP3 on the runtime's configured ports; yields (imap_port, pop3_port)."""
    servers = await start_access_listeners(runtime)
    try:
        yield (
            parse_listen_address(runtime.settings.imap_listen_addr, "IMAP_ADDR")[1],
            parse_listen_address(runtime.settings.pop3_listen_addr, "POP3_ADDR")[1],
        )
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


async def send(port: int, raw: bytes, recipients: list[str], sender: str = "a@example.org") -> Any:
    return await aiosmtplib.send(raw, sender=sender, recipients=recipients, hostname="127.0.0.1", port=port)


async def stored_messages(runtime: Runtime, mailbox_id: str) -> list[dict[str, Any]]:
    query = (
        select(messages, message_raw.c.raw)
        .join(message_raw, message_raw.c.id == messages.c.raw_id)
        .where(messages.c.mailbox_id == mailbox_id)
        .order_by(messages.c.uid)
    )
    async with runtime.engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    result = []
    for row in rows:
        record = dict(row)
        record["tags"] = json.loads(record["tags"])
        result.append(record)
    return result


async def used_bytes(runtime: Runtime, mailbox_id: str) -> int:
    async with runtime.engine.connect() as connection:
        value = (
            await connection.execute(select(mailboxes.c.used_bytes).where(mailboxes.c.id == mailbox_id))
        ).scalar()
    return int(value or 0)


async def lmtp_dialogue(
    port: int, mail_from: str, recipients: list[str], raw: bytes, line_end: bytes = b"\r\n"
) -> list[str]:
    """Speak LMTP by hand and return the DATA replies, one per accepted recipient."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> str:
        lines = []
        while True:
            line = (await reader.readline()).decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    async def command(text: str) -> str:
        writer.write(text.encode() + b"\r\n")
        await writer.drain()
        return await reply()

    await reply()
    await command("LHLO client.test")
    await command(f"MAIL FROM:<{mail_from}>")
    accepted = [r for r in recipients if (await command(f"RCPT TO:<{r}>")).startswith("250")]
    await command("DATA")
    lines = raw.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    writer.write(
        b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"
    )
    await writer.drain()
    replies = [await reply() for _ in accepted]
    writer.close()
    return replies
