"""IMAP and IMAPS as `mailservice serve` runs them: the resolved credentials read mail delivered over SMTP."""

from __future__ import annotations

import asyncio
import imaplib
import ssl
from typing import Any

import aiosmtplib
import httpx
import pytest

from tests.support.agent import claim_and_pay
from tests.support.keys import AgentKey
from tests.support.mail import send, text_message
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.parser_workers]


async def paid_credentials(server: ServerProcess) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        return await claim_and_pay(client, AgentKey.generate())


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def read_first_message(imap: imaplib.IMAP4, credentials: dict[str, Any]) -> bytes:
    imap.login(credentials["email"], credentials["password"])
    status, data = imap.select("INBOX")
    assert (status, data) == ("OK", [b"1"])
    status, fetched = imap.fetch("1", "(BODY.PEEK[])")
    assert status == "OK"
    body = fetched[0]
    assert isinstance(body, tuple)
    return body[1]


async def test_served_imap_reads_mail_delivered_over_smtp(server: ServerProcess) -> None:
    credentials = await paid_credentials(server)
    assert credentials["port"] == server.imap_port
    await send(server.smtp_port, text_message(credentials["email"], "Over IMAP"), [credentials["email"]])

    def read() -> bytes:
        with imaplib.IMAP4("127.0.0.1", server.imap_port) as imap:
            return read_first_message(imap, credentials)

    raw = await asyncio.to_thread(read)
    assert b"Subject: Over IMAP" in raw
    assert server.child_pids(), "the served process parses in a worker process by default"
    assert f"Delivered-To: {credentials['email']}".encode() in raw


async def test_served_imap_refuses_a_wrong_password(server: ServerProcess) -> None:
    credentials = await paid_credentials(server)

    def login() -> None:
        with imaplib.IMAP4("127.0.0.1", server.imap_port) as imap:
            imap.login(credentials["email"], "not-the-password")

    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        await asyncio.to_thread(login)


async def test_served_imaps_and_starttls_with_plaintext_refused(tls_server: ServerProcess) -> None:
    credentials = await paid_credentials(tls_server)
    await aiosmtplib.send(
        text_message(credentials["email"], "Over TLS"),
        sender="a@example.org",
        recipients=[credentials["email"]],
        hostname="127.0.0.1",
        port=tls_server.smtp_port,
        validate_certs=False,
    )

    def over_imaps() -> bytes:
        with imaplib.IMAP4_SSL("127.0.0.1", tls_server.imaps_port, ssl_context=client_tls()) as imap:
            return read_first_message(imap, credentials)

    def plaintext_then_starttls() -> tuple[str, bytes]:
        with imaplib.IMAP4("127.0.0.1", tls_server.imap_port) as imap:
            try:
                imap.login(credentials["email"], credentials["password"])
                refused = "accepted"
            except imaplib.IMAP4.error as error:
                refused = str(error)
            imap.starttls(client_tls())
            return refused, read_first_message(imap, credentials)

    assert b"Subject: Over TLS" in await asyncio.to_thread(over_imaps)
    refused, raw = await asyncio.to_thread(plaintext_then_starttls)
    assert "PRIVACYREQUIRED" in refused or "LOGINDISABLED" in refused, refused
    assert b"Subject: Over TLS" in raw
