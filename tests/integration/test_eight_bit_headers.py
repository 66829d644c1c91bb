"""Headers with raw bytes that are not UTF-8: stored byte for byte, readable as text, never refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailservice.bootstrap import Runtime
from tests.support.mail import PaidMailbox, mail_listeners, paid_mailbox, send, stored_messages

LATIN1_MESSAGE = (
    b"From: Caf\xe9 <a@example.org>\r\nTo: <TO>\r\nSubject: caf\xe9\r\n"
    b"Message-ID: <\xe9t\xe9@example.org>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
    b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="r\xe9sum\xe9.pdf"\r\n'
    b"\r\nxx\r\n--b--\r\n"
)


@pytest.fixture
async def smtp_port(runtime: Runtime) -> AsyncIterator[int]:
    async with mail_listeners(runtime) as (smtp, _lmtp):
        yield smtp


@pytest.fixture
async def mailbox(client: httpx.AsyncClient) -> PaidMailbox:
    return await paid_mailbox(client)


async def test_latin1_header_bytes_are_stored_exactly_and_decoded_for_json(
    runtime: Runtime, client: httpx.AsyncClient, smtp_port: int, mailbox: PaidMailbox
) -> None:
    raw = LATIN1_MESSAGE.replace(b"<TO>", mailbox.address.encode())

    errors, _reply = await send(smtp_port, raw, [mailbox.address])

    assert errors == {}
    [stored] = await stored_messages(runtime, mailbox.id)
    assert stored["raw"].endswith(raw)
    assert stored["subject"] == "café"
    assert stored["from_name"] == "Café"
    assert "\udce9".encode("utf-8", "surrogateescape") == b"\xe9"  # what the IMAP texts keep
    assert "{4}\r\ncaf\udce9" in stored["envelope"]


HEADER_BYTES = st.binary(min_size=1, max_size=40).map(
    lambda value: value.replace(b"\r", b"").replace(b"\n", b"")
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=HEADER_BYTES, sender_name=HEADER_BYTES, message_id=HEADER_BYTES, filename=HEADER_BYTES)
async def test_delivery_never_refuses_a_message_for_its_header_bytes(
    smtp_port: int,
    mailbox: PaidMailbox,
    subject: bytes,
    sender_name: bytes,
    message_id: bytes,
    filename: bytes,
) -> None:
    raw = (
        LATIN1_MESSAGE.replace(b"<TO>", mailbox.address.encode())
        .replace(b"caf\xe9\r\n", subject + b"\r\n")
        .replace(b"Caf\xe9", sender_name.replace(b"<", b""))
        .replace(b"\xe9t\xe9", message_id.replace(b">", b""))
        .replace(b"r\xe9sum\xe9.pdf", filename.replace(b'"', b""))
    )

    errors, reply = await send(smtp_port, raw, [mailbox.address])

    assert errors == {}
    assert reply.startswith("2.0.0")
