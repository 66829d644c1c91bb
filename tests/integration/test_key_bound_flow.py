"""Claim -> pay -> resolve over the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from mailservice.adapters.db.tables import mailboxes, outbox
from mailservice.bootstrap import Runtime
from mailservice.config import parse_listen_address
from mailservice.domain.clock import FixedClock
from tests.conftest import BASE_URL, MAIL_DOMAIN
from tests.support.agent import claim, claim_and_pay, new_challenge, resolve, signed_proof
from tests.support.keys import AgentKey, SshKeygenKey


async def count_rows(runtime: Runtime, table: object) -> int:
    async with runtime.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_claim_with_new_key_creates_pending_mailbox_with_payment_link(
    client: httpx.AsyncClient,
) -> None:
    response = await claim(client, AgentKey.generate())

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending_payment"
    assert body["usable"] is False
    assert body["access_token"] is None
    assert re.fullmatch(rf"mbx_[0-9a-f]{{11}}@{re.escape(MAIL_DOMAIN)}", body["email"])
    assert re.fullmatch(rf"{re.escape(BASE_URL)}/mock/pay/mock_[0-9a-f-]{{36}}", body["payment_url"])


async def test_claim_with_same_key_returns_same_mailbox_and_checkout(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    first = (await claim(client, key)).json()

    second = await claim(client, key)

    assert second.status_code == 200
    assert second.json()["id"] == first["id"]
    assert second.json()["payment_url"] == first["payment_url"]


async def test_claim_with_different_key_creates_different_mailbox(client: httpx.AsyncClient) -> None:
    first = (await claim(client, AgentKey.generate())).json()
    second = (await claim(client, AgentKey.generate())).json()

    assert first["id"] != second["id"]
    assert first["email"] != second["email"]


async def test_fifty_concurrent_claims_of_one_key_create_exactly_one_mailbox(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    proofs = [await signed_proof(client, key) for _ in range(50)]

    responses = await asyncio.gather(
        *(client.post("/v1/mailboxes/claim", json={"billing_email": "b@example.com", **p}) for p in proofs)
    )

    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_rows(runtime, mailboxes) == 1
    assert await count_rows(runtime, outbox) == 1


async def test_paid_mailbox_resolves_to_every_access_field(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()

    details = await claim_and_pay_existing(client, claimed["payment_url"], key)

    assert details["mailbox_id"] == claimed["id"]
    assert details["email"] == claimed["email"]
    assert details["username"] == claimed["email"].split("@")[0]
    assert details["host"] == "imap.agents.test"
    assert details["port"] == parse_listen_address(runtime.settings.imap_listen_addr, "IMAP_ADDR")[1]
    assert details["expires_at"] == "2026-02-28T12:00:00Z"
    mailbox = await runtime.services.mailboxes.current(claimed["id"])
    assert mailbox is not None
    assert runtime.services.credentials.check_mail_password(mailbox, str(details["password"]))
    assert runtime.services.credentials.check_access_token(mailbox, str(details["access_token"]))


async def test_resolve_for_pop3_gives_the_pop3_port_and_the_same_login(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    key = AgentKey.generate()
    imap = await claim_and_pay(client, key)

    response = await client.post(
        "/v1/access/resolve", json={"protocol": "pop3", **await signed_proof(client, key)}
    )

    assert response.status_code == 200, response.text
    pop3 = response.json()
    assert pop3["port"] == parse_listen_address(runtime.settings.pop3_listen_addr, "POP3_ADDR")[1]
    assert pop3["port"] != imap["port"]
    assert {k: v for k, v in pop3.items() if k != "port"} == {k: v for k, v in imap.items() if k != "port"}


async def claim_and_pay_existing(
    client: httpx.AsyncClient, payment_url: str, key: AgentKey
) -> dict[str, object]:
    assert (await client.get(payment_url)).status_code == 200
    response = await resolve(client, key)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_claim_of_paid_mailbox_returns_it_usable_with_access_token(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    details = await claim_and_pay(client, key)

    again = await claim(client, key)

    assert again.status_code == 200
    assert again.json()["usable"] is True
    assert again.json()["status"] == "active"
    assert again.json()["payment_url"] is None
    assert again.json()["access_token"] == details["access_token"]


async def test_opening_payment_link_twice_adds_one_month_only(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    payment_url = (await claim(client, key)).json()["payment_url"]

    first = await client.get(payment_url)
    second = await client.get(payment_url)

    assert first.json()["expires_at"] == second.json()["expires_at"] == "2026-02-28T12:00:00Z"


async def test_payment_page_is_html_for_browsers(client: httpx.AsyncClient) -> None:
    payment_url = (await claim(client, AgentKey.generate())).json()["payment_url"]

    page = await client.get(payment_url, headers={"Accept": "text/html,application/xhtml+xml"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Payment received" in page.text


async def test_unknown_payment_link_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/mock/pay/mock_unknown")

    assert response.status_code == 404
    assert response.json()["error"] == "checkout not found"


async def test_resolve_of_unknown_key_is_404(client: httpx.AsyncClient) -> None:
    response = await resolve(client, AgentKey.generate())

    assert response.status_code == 404
    assert response.json()["error"] == "mailbox not found"


async def test_resolve_before_payment_is_409_waiting_payment_with_link(client: httpx.AsyncClient) -> None:
    key = AgentKey.generate()
    claimed = (await claim(client, key)).json()

    response = await resolve(client, key)

    assert response.status_code == 409
    assert response.json()["status"] == "waiting_payment"
    assert response.json()["payment_url"] == claimed["payment_url"]


async def test_resolve_after_expiry_is_409_expired(client: httpx.AsyncClient, clock: FixedClock) -> None:
    key = AgentKey.generate()
    await claim_and_pay(client, key)
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))

    response = await resolve(client, key)

    assert response.status_code == 409
    assert response.json()["status"] == "expired"
    assert response.json()["expired_at"] == "2026-02-28T12:00:00Z"


async def test_expired_mailbox_claimed_again_gets_new_checkout_and_renews(
    client: httpx.AsyncClient, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    first = await claim_and_pay(client, key)
    clock.set(datetime(2026, 3, 10, tzinfo=UTC))

    again = await claim(client, key)
    assert again.status_code == 200
    assert again.json()["status"] == "expired"
    await client.get(again.json()["payment_url"])
    renewed = await resolve(client, key)

    assert renewed.status_code == 200
    assert renewed.json()["mailbox_id"] == first["mailbox_id"]
    assert renewed.json()["expires_at"] == "2026-04-10T00:00:00Z"


async def test_sweep_expires_lapsed_mailboxes(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    await claim_and_pay(client, AgentKey.generate())
    clock.advance(timedelta(days=40))

    assert await runtime.services.mailboxes.expire_lapsed() == 1
    assert await runtime.services.mailboxes.expire_lapsed() == 0


async def test_credential_epoch_rotation_revokes_password_and_token(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    mailbox = await runtime.services.mailboxes.current(str(details["mailbox_id"]))
    assert mailbox is not None
    rotated = type(mailbox)(**{**mailbox.__dict__, "credential_epoch": mailbox.credential_epoch + 1})

    assert not runtime.services.credentials.check_mail_password(rotated, str(details["password"]))
    assert not runtime.services.credentials.check_access_token(rotated, str(details["access_token"]))


async def test_payment_link_is_queued_and_sent_by_outbox_worker(
    client: httpx.AsyncClient, runtime: Runtime, caplog: object
) -> None:
    await claim(client, AgentKey.generate(), billing_email="  Payer@Example.COM ")

    result = await runtime.services.outbox.drain_once()

    assert (result.sent, result.failed) == (1, 0)
    assert (await runtime.services.outbox.drain_once()).sent == 0


async def test_sshsig_from_ssh_keygen_proves_the_key(client: httpx.AsyncClient, tmp_path: Path) -> None:
    key = SshKeygenKey.generate(tmp_path)

    response = await claim(client, key)

    assert response.status_code == 201, response.text


async def test_sshsig_with_armour_stripped_is_accepted(client: httpx.AsyncClient, tmp_path: Path) -> None:
    key = SshKeygenKey.generate(tmp_path)
    challenge = await new_challenge(client, key.public_line)
    armoured = key.sign(challenge)
    stripped = "".join(line for line in armoured.splitlines() if not line.startswith("-----"))

    response = await client.post(
        "/v1/mailboxes/claim",
        json={
            "billing_email": "b@example.com",
            "edproof": key.public_line,
            "challenge": challenge,
            "signature": stripped,
        },
    )

    assert response.status_code == 201, response.text


async def test_claiming_an_unpaid_mailbox_again_mails_its_link_once_per_interval(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    key = AgentKey.generate()
    await claim(client, key)
    first = await runtime.services.outbox.drain_once()

    clock.advance(timedelta(hours=23))
    again = await claim(client, key)
    within = await runtime.services.outbox.drain_once()
    clock.advance(timedelta(hours=1, seconds=1))
    later = await claim(client, key)
    after = await runtime.services.outbox.drain_once()

    assert (again.status_code, later.status_code) == (200, 200)
    assert (first.sent, within.sent, after.sent) == (1, 0, 1)
