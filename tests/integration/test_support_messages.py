"""Support messages: signed with the agent's key, limited per key, queued for SUPPORT_EMAIL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from mailservice.adapters.identity import parse_public_key
from mailservice.bootstrap import Runtime, build_runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from tests.conftest import make_settings
from tests.support.agent import claim, signed_proof
from tests.support.keys import AgentKey
from tests.support.outbox import outbox_rows

SUPPORT = "support@operator.test"


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(database_dsn, tmp_path, support_email=SUPPORT)


async def send(
    client: httpx.AsyncClient, key: AgentKey, subject: str = "Help", body: str = "It broke."
) -> httpx.Response:
    proof = await signed_proof(client, key)
    return await client.post("/v1/support/messages", json={**proof, "subject": subject, "body": body})


async def queued_support_mail(runtime: Runtime) -> list[dict[str, object]]:
    return await outbox_rows(runtime, "support_message")


async def test_a_signed_message_is_forwarded_with_reply_to_the_mailbox(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    mailbox = (await claim(client, key)).json()

    response = await send(
        client, key, subject="Where\r\nBcc: x@evil.test is my mail?", body="Nothing arrives."
    )

    assert response.status_code == 202
    assert response.json() == {"status": "queued"}
    (mail,) = await queued_support_mail(runtime)
    assert mail["recipient"] == SUPPORT
    assert mail["reply_to"] == mailbox["email"]
    assert mail["subject"] == "Support: Where Bcc: x@evil.test is my mail?"
    assert "Nothing arrives." in str(mail["body_text"])
    assert f"Key: {parse_public_key(key.public_line).ssh_fingerprint}" in str(mail["body_text"])


async def test_a_key_without_mailbox_may_write_too(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert (await send(client, AgentKey.generate())).status_code == 202

    (mail,) = await queued_support_mail(runtime)
    assert mail["reply_to"] is None


async def test_at_most_three_messages_per_key_per_hour(client: httpx.AsyncClient, clock: FixedClock) -> None:
    key = AgentKey.generate()

    statuses = [(await send(client, key)).status_code for _ in range(4)]
    other_key = await send(client, AgentKey.generate())
    clock.advance(timedelta(hours=1))
    later = await send(client, key)

    assert statuses == [202, 202, 202, 429]
    assert other_key.status_code == 202
    assert later.status_code == 202


async def test_bad_messages_are_refused(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()

    too_long_subject = await send(client, key, subject="x" * 201)
    too_long_body = await send(client, key, body="x" * 10_001)
    empty = await send(client, key, subject="  ", body="")
    unsigned = await client.post(
        "/v1/support/messages", json={"edproof": key.public_line, "subject": "s", "body": "b"}
    )
    proof = await signed_proof(client, key)
    forged = await client.post(
        "/v1/support/messages",
        json={
            **proof,
            "signature": AgentKey.generate().sign(proof["challenge"]),
            "subject": "s",
            "body": "b",
        },
    )

    assert [r.status_code for r in (too_long_subject, too_long_body, empty, unsigned, forged)] == [
        400,
        400,
        400,
        400,
        401,
    ]


async def test_without_support_email_the_endpoint_is_503(
    database_dsn: str, tmp_path: Path, clock: FixedClock
) -> None:
    runtime = await build_runtime(make_settings(database_dsn, tmp_path), clock)
    try:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await send(client, AgentKey.generate())
    finally:
        await runtime.close()

    assert response.status_code == 503
    assert response.json()["code"] == "not_configured"
