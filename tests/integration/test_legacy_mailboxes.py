"""Mailboxes of the legacy account flow and resolve by access token, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from mailservice.domain.clock import FixedClock
from tests.integration.test_legacy_accounts import create_account


async def api_headers(client: httpx.AsyncClient, email: str = "owner@example.com") -> dict[str, str]:
    account = await create_account(client, email)
    return {"X-API-Token": account["api_token"]}


async def test_mailbox_endpoints_refuse_missing_or_wrong_api_tokens(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/mailboxes")
    wrong = await client.post("/v1/mailboxes", headers={"X-API-Token": "acc_wrong"})
    wrong_bearer = await client.get("/v1/mailboxes/abc", headers={"Authorization": "Bearer acc_wrong"})

    assert [r.status_code for r in (missing, wrong, wrong_bearer)] == [401, 401, 401]
    assert missing.json()["error"] == "invalid api token"


async def test_unpaid_account_gets_one_pending_mailbox_with_a_payment_link(
    client: httpx.AsyncClient,
) -> None:
    headers = await api_headers(client)

    created = await client.post("/v1/mailboxes", headers=headers)
    again = await client.post("/v1/mailboxes", headers=headers)

    assert created.status_code == 201
    assert created.json()["status"] == "pending_payment"
    assert created.json()["usable"] is False
    assert created.json()["access_token"] is None
    assert "/mock/pay/" in created.json()["payment_url"]
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    assert again.json()["payment_url"] == created.json()["payment_url"]


async def test_concurrent_creates_of_an_unpaid_account_share_one_mailbox(client: httpx.AsyncClient) -> None:
    headers = await api_headers(client)

    responses = await asyncio.gather(*(client.post("/v1/mailboxes", headers=headers) for _ in range(10)))

    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len((await client.get("/v1/mailboxes", headers=headers)).json()["items"]) == 1


async def test_paying_makes_the_account_subscribed_and_its_mailbox_readable(
    client: httpx.AsyncClient,
) -> None:
    account = await create_account(client)
    headers = {"Authorization": f"Bearer {account['api_token']}"}
    pending = (await client.post("/v1/mailboxes", headers=headers)).json()

    assert (await client.get(pending["payment_url"])).status_code == 200
    mailbox = await client.get(f"/v1/mailboxes/{pending['id']}", headers=headers)
    resolved = await client.post("/v1/imap/resolve", json={"access_token": mailbox.json()["access_token"]})

    assert mailbox.status_code == 200
    assert mailbox.json()["status"] == "active"
    assert mailbox.json()["expires_at"] == "2026-02-28T12:00:00Z"
    assert resolved.status_code == 200
    assert resolved.json()["mailbox_id"] == pending["id"]
    assert resolved.json()["email"] == pending["email"]
    assert resolved.json()["username"] == pending["email"].split("@")[0]
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": account["refresh_token"]})
    assert refreshed.json()["subscription_expires_at"] == "2026-02-28T12:00:00Z"


async def test_a_subscribed_account_gets_active_mailboxes_at_once(
    client: httpx.AsyncClient, clock: FixedClock
) -> None:
    headers = await api_headers(client)
    pending = (await client.post("/v1/mailboxes", headers=headers)).json()
    await client.get(pending["payment_url"])
    clock.advance(timedelta(seconds=1))  # listed oldest first; at one instant their order is the database's

    second = await client.post("/v1/mailboxes", headers=headers)
    listing = await client.get("/v1/mailboxes", headers=headers)

    assert second.status_code == 201
    assert second.json()["usable"] is True
    assert second.json()["access_token"].startswith(f"mat_{second.json()['id']}.")
    assert second.json()["expires_at"] == "2026-02-28T12:00:00Z"
    assert [item["id"] for item in listing.json()["items"]] == [pending["id"], second.json()["id"]]


async def test_another_accounts_mailbox_is_403_and_an_unknown_one_404(client: httpx.AsyncClient) -> None:
    mine = await api_headers(client, "one@example.com")
    theirs = await api_headers(client, "two@example.com")
    their_mailbox = (await client.post("/v1/mailboxes", headers=theirs)).json()

    forbidden = await client.get(f"/v1/mailboxes/{their_mailbox['id']}", headers=mine)
    unknown = await client.get("/v1/mailboxes/0123456789abcdef0123456789abcdef", headers=mine)

    assert forbidden.status_code == 403
    assert unknown.status_code == 404
    assert (await client.get("/v1/mailboxes", headers=mine)).json() == {"items": []}


async def test_imap_resolve_refuses_bad_tokens_and_expired_mailboxes(
    client: httpx.AsyncClient, clock: FixedClock
) -> None:
    headers = await api_headers(client)
    pending = (await client.post("/v1/mailboxes", headers=headers)).json()
    await client.get(pending["payment_url"])
    token = (await client.get(f"/v1/mailboxes/{pending['id']}", headers=headers)).json()["access_token"]

    bad = await client.post("/v1/imap/resolve", json={"access_token": "mat_nonsense"})
    missing = await client.post("/v1/imap/resolve", json={})
    clock.advance(timedelta(days=40))
    expired = await client.post("/v1/imap/resolve", json={"access_token": token})
    mailbox = await client.get(f"/v1/mailboxes/{pending['id']}", headers=headers)

    assert (bad.status_code, missing.status_code, expired.status_code) == (401, 400, 409)
    assert expired.json()["status"] == "expired"
    assert mailbox.json()["status"] == "expired"
    assert mailbox.json()["access_token"] is None
