"""POP3 and POP3S as `mailservice serve` runs them: the resolved credentials read and delete mail
delivered over SMTP; with a certificate, STLS and POP3S, and passwords refused before TLS."""

from __future__ import annotations

import asyncio
import poplib

import aiosmtplib
import pytest

from tests.e2e.test_imap_served import client_tls, paid_credentials
from tests.support.mail import send, text_message
from tests.support.server import ServerProcess

# parsing in workers, as served by default: the same shared servers as the IMAP tests
pytestmark = [pytest.mark.slow, pytest.mark.parser_workers]


async def test_served_pop3_reads_and_deletes_mail_delivered_over_smtp(server: ServerProcess) -> None:
    credentials = await paid_credentials(server)
    await send(server.smtp_port, text_message(credentials["email"], "Over POP3"), [credentials["email"]])

    def read_and_delete() -> bytes:
        client = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
        client.user(credentials["username"])
        client.pass_(credentials["password"])
        _, lines, _ = client.retr(1)
        client.dele(1)
        client.quit()
        return b"\r\n".join(lines)

    def count() -> int:
        client = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
        client.user(credentials["email"])
        client.pass_(credentials["password"])
        messages, _ = client.stat()
        client.quit()
        return messages

    raw = await asyncio.to_thread(read_and_delete)
    assert b"Subject: Over POP3" in raw
    assert f"Delivered-To: {credentials['email']}".encode() in raw
    assert await asyncio.to_thread(count) == 0


async def test_served_pop3s_and_stls_with_plaintext_refused(tls_server: ServerProcess) -> None:
    credentials = await paid_credentials(tls_server)
    await aiosmtplib.send(
        text_message(credentials["email"], "Over TLS"),
        sender="a@example.org",
        recipients=[credentials["email"]],
        hostname="127.0.0.1",
        port=tls_server.smtp_port,
        validate_certs=False,
    )

    def first_message(client: poplib.POP3) -> bytes:
        client.user(credentials["email"])
        client.pass_(credentials["password"])
        _, lines, _ = client.retr(1)
        client.quit()
        return b"\r\n".join(lines)

    def over_pop3s() -> bytes:
        return first_message(
            poplib.POP3_SSL("127.0.0.1", tls_server.pop3s_port, context=client_tls(), timeout=10)
        )

    def plaintext_then_stls() -> tuple[str, bytes]:
        client = poplib.POP3("127.0.0.1", tls_server.pop3_port, timeout=10)
        try:
            client.user(credentials["email"])
            refused = "accepted"
        except poplib.error_proto as error:
            refused = str(error)
        client.stls(client_tls())
        return refused, first_message(client)

    assert b"Subject: Over TLS" in await asyncio.to_thread(over_pop3s)
    refused, raw = await asyncio.to_thread(plaintext_then_stls)
    assert "[AUTH] Plaintext authentication disallowed" in refused
    assert b"Subject: Over TLS" in raw
