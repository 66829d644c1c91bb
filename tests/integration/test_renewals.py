"""Renewal over the HTTP API: a new checkout for an active or expired mailbox, paid on top of what is left."""

from __future__ import annotations

import asyncio
import imaplib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import httpx
import pytest
from sqlalchemy import select

from mailservice.adapters.db.tables import mailboxes
from mailservice.bootstrap import Runtime
from mailservice.domain.clock import FixedClock
from tests.support.agent import claim, claim_and_pay, resolve, signed_proof
from tests.support.keys import AgentKey
from tests.support.mail import access_listeners, mail_listeners, send, text_message
from tests.support.outbox import outbox_rows


async def renew(client: httpx.AsyncClient, key: AgentKey, **fields: Any) -> httpx.Response:
    proof = await signed_proof(client, key)
    return await client.post("/v1/mailboxes/renew", json={**proof, **fields})


async def billing_email_of(runtime: Runtime, mailbox_id: str) -> str:
    query = select(mailboxes.c.billing_email).where(mailboxes.c.id == mailbox_id)
    async with runtime.engine.connect() as connection:
        return str((await connection.execute(query)).scalar_one())


async def test_renewing_an_active_mailbox_extends_it_from_its_expiry(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    paid = await claim_and_pay(client, key)
    clock.set(datetime(2026, 2, 20, 9, 0, tzinfo=UTC))

    response = await renew(client, key)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["usable"]) == (paid["mailbox_id"], "active", True)
    assert body["expires_at"] == "2026-02-28T12:00:00Z"
    assert body["access_token"] == paid["access_token"]
    assert body["payment_url"].startswith("http://mailservice.test/mock/pay/mock_")
    assert (await client.get(body["payment_url"])).status_code == 200
    renewed = await resolve(client, key)
    assert renewed.json()["expires_at"] == "2026-03-28T12:00:00Z"
    link = (await outbox_rows(runtime))[-1]
    assert (link["kind"], link["recipient"]) == ("renewal_link", "billing@example.com")
    assert body["payment_url"] in link["body_text"]


async def test_renewing_an_expired_mailbox_starts_the_month_now_and_restores_access(
    client: httpx.AsyncClient, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    clock.set(datetime(2026, 3, 10, 8, 30, tzinfo=UTC))
    assert (await resolve(client, key)).status_code == 409

    response = await renew(client, key)

    body = response.json()
    assert (response.status_code, body["status"], body["usable"], body["access_token"]) == (
        200,
        "expired",
        False,
        None,
    )
    await client.get(body["payment_url"])
    restored = await resolve(client, key)
    assert restored.status_code == 200
    assert restored.json()["expires_at"] == "2026-04-10T08:30:00Z"


async def test_renewal_link_goes_to_the_given_billing_email_which_is_kept(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    paid = await claim_and_pay(client, key)

    response = await renew(client, key, billing_email="  New.Payer@Example.ORG ")

    assert response.status_code == 200
    assert (await outbox_rows(runtime))[-1]["recipient"] == "new.payer@example.org"
    assert await billing_email_of(runtime, paid["mailbox_id"]) == "new.payer@example.org"


async def test_renewing_twice_reuses_the_open_checkout_and_sends_one_link(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    before = len(await outbox_rows(runtime))

    first = (await renew(client, key)).json()
    second = (await renew(client, key)).json()

    assert first["payment_url"] == second["payment_url"]
    assert len(await outbox_rows(runtime)) == before + 1


async def test_opening_the_renewal_link_twice_adds_one_month(
    client: httpx.AsyncClient, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    link = (await renew(client, key)).json()["payment_url"]

    await client.get(link)
    await client.get(link)

    assert (await resolve(client, key)).json()["expires_at"] == "2026-03-28T12:00:00Z"


async def test_renewing_a_paid_renewal_answers_with_the_extended_mailbox(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    await client.get((await renew(client, key)).json()["payment_url"])

    again = (await renew(client, key)).json()

    assert again["expires_at"] == "2026-03-28T12:00:00Z"
    assert again["payment_url"] is not None  # a further month can be bought ahead


async def test_renewing_a_never_paid_mailbox_answers_as_a_claim(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()

    response = await renew(client, key)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["usable"]) == (claimed["id"], "pending_payment", False)
    assert body["payment_url"] == claimed["payment_url"]


async def test_renewing_an_unknown_key_is_404(client: httpx.AsyncClient) -> None:
    response = await renew(client, AgentKey.generate())

    assert response.status_code == 404
    assert response.json()["error"] == "mailbox not found"


@pytest.mark.parametrize("billing_email", ["", "not-an-address", "a@b"])
async def test_renewing_with_a_malformed_billing_email_is_400(
    client: httpx.AsyncClient, billing_email: str
) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)

    response = await renew(client, key, billing_email=billing_email)

    assert response.status_code == 400


async def test_renewal_needs_a_fresh_proof_of_the_key(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    proof = await signed_proof(client, key)
    assert (await client.post("/v1/mailboxes/renew", json=proof)).status_code == 200

    replayed = await client.post("/v1/mailboxes/renew", json=proof)
    unsigned = await client.post("/v1/mailboxes/renew", json={"edproof": key.public_line})
    forged = await client.post(
        "/v1/mailboxes/renew", json={**proof, "signature": AgentKey.generate().sign(proof["challenge"])}
    )

    assert (replayed.status_code, unsigned.status_code, forged.status_code) == (401, 400, 401)


@pytest.fixture
async def listening(runtime: Runtime) -> AsyncIterator[tuple[int, int]]:
    """SMTP and IMAP on real sockets; yields (smtp_port, imap_port)."""
    async with (
        access_listeners(runtime) as (imap_port, _pop3_port),
        mail_listeners(runtime) as (smtp_port, _),
    ):
        yield smtp_port, imap_port


def imap_login(port: int, username: str, password: str) -> str:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    try:
        client.login(username, password)
    except imaplib.IMAP4.error:
        return "refused"
    client.logout()
    return "ok"


async def test_expiry_shuts_every_door_and_renewal_opens_them_again(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FixedClock,
    listening: tuple[int, int],
) -> None:
    smtp_port, imap_port = listening
    key = AgentKey.generate()
    details = await claim_and_pay(client, key)
    address, token = str(details["email"]), str(details["access_token"])
    reader = {"Authorization": f"Bearer {token}"}
    await send(smtp_port, text_message(address, subject="before"), [address])

    clock.set(datetime(2026, 3, 2, tzinfo=UTC))
    await runtime.services.mailboxes.expire_lapsed()
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refusal:
        await send(smtp_port, text_message(address, subject="while expired"), [address])
    expired_read = await client.get("/v1/messages", headers=reader)
    expired_login = await asyncio.to_thread(imap_login, imap_port, details["username"], details["password"])

    await client.get((await renew(client, key)).json()["payment_url"])
    await send(smtp_port, text_message(address, subject="after"), [address])
    restored_read = await client.get("/v1/messages", headers=reader)
    restored_login = await asyncio.to_thread(imap_login, imap_port, details["username"], details["password"])

    assert refusal.value.recipients[0].code == 550
    assert (expired_read.status_code, expired_read.json()["status"]) == (409, "expired")
    assert expired_login == "refused"
    assert restored_read.status_code == 200
    assert [m["subject"] for m in restored_read.json()["messages"]] == ["after", "before"]
    assert restored_login == "ok"


async def test_claiming_an_expired_mailbox_again_mails_a_renewal_link(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    clock.set(datetime(2026, 3, 10, tzinfo=UTC))

    again = (await claim(client, key)).json()

    link = (await outbox_rows(runtime))[-1]
    assert (link["kind"], link["subject"]) == ("renewal_link", "Renew your mailbox: payment link")
    assert again["payment_url"] in link["body_text"]
