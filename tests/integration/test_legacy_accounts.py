"""The legacy account flow over HTTP: accounts, refresh, recovery, on SQLite and PostgreSQL. The rules
of token expiry and of recovery links are tested at the service layer (tests/unit/test_account_service.py)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
from sqlalchemy import select

from mailservice.adapters.db.tables import account_tokens, accounts
from mailservice.bootstrap import Runtime
from tests.conftest import BASE_URL
from tests.support.outbox import outbox_rows

OWNER = "owner@example.com"


async def create_account(client: httpx.AsyncClient, email: str = OWNER) -> dict[str, Any]:
    response = await client.post("/v1/accounts", json={"owner_email": email})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def recovery_mails(runtime: Runtime) -> list[str]:
    return [row["body_text"] for row in await outbox_rows(runtime, "recovery_link")]


async def latest_recovery_token(runtime: Runtime) -> str:
    mails = await recovery_mails(runtime)
    assert mails, "no recovery e-mail was queued"
    found = re.search(rf"{re.escape(BASE_URL)}/v1/accounts/recovery/complete\?token=(\S+)", mails[-1])
    assert found is not None, mails[-1]
    return found.group(1)


async def test_create_account_returns_tokens_once_and_stores_only_hashes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = await create_account(client, " Owner@Example.com ")

    assert body["owner_email"] == OWNER
    assert body["subscription_expires_at"] is None
    assert body["api_token"].startswith("acc_") and body["refresh_token"].startswith("ref_")
    async with runtime.engine.connect() as connection:
        stored = (await connection.execute(select(accounts))).mappings().one()
        token_rows = (await connection.execute(select(account_tokens))).mappings().all()
    assert stored["api_token_hash"] == hashlib.sha256(body["api_token"].encode()).hexdigest()
    assert [row["token_hash"] for row in token_rows] == [
        hashlib.sha256(body["refresh_token"].encode()).hexdigest()
    ]
    assert body["api_token"] not in str(dict(stored))


async def test_create_account_for_known_email_is_202_and_sends_a_recovery_link(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_account(client)

    again = await client.post("/v1/accounts", json={"owner_email": OWNER})

    assert again.status_code == 202
    assert again.json() == {"status": "email_sent_if_exists"}
    assert len(await recovery_mails(runtime)) == 1


async def test_create_account_refuses_bad_input(client: httpx.AsyncClient) -> None:
    not_an_address = await client.post("/v1/accounts", json={"owner_email": "nobody"})
    unknown_field = await client.post("/v1/accounts", json={"owner_email": OWNER, "admin": True})

    assert not_an_address.status_code == 400
    assert not_an_address.json()["error"] == "owner_email must be a valid e-mail address"
    assert unknown_field.status_code == 400


async def test_refresh_rotates_both_tokens_and_works_once(client: httpx.AsyncClient) -> None:
    first = await create_account(client)

    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    replayed = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert refreshed.status_code == 200
    assert refreshed.json()["api_token"] != first["api_token"]
    assert refreshed.json()["refresh_token"] != first["refresh_token"]
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "authentication failed"
    old = await client.get("/v1/mailboxes", headers={"X-API-Token": first["api_token"]})
    new = await client.get("/v1/mailboxes", headers={"X-API-Token": refreshed.json()["api_token"]})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_refresh_with_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/refresh", json={"refresh_token": "ref_unknown"})

    assert response.status_code == 401


async def test_recovery_start_is_always_202_and_mails_only_known_owners(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_account(client)

    unknown = await client.post("/v1/accounts/recovery/start", json={"owner_email": "who@example.com"})
    malformed = await client.post("/v1/accounts/recovery/start", json={"owner_email": "nonsense"})
    known = await client.post("/v1/accounts/recovery/start", json={"owner_email": OWNER})

    assert [r.status_code for r in (unknown, malformed, known)] == [202, 202, 202]
    assert {r.json()["status"] for r in (unknown, malformed, known)} == {"email_sent_if_exists"}
    assert len(await recovery_mails(runtime)) == 1


async def test_opening_the_recovery_link_shows_a_button_and_does_not_spend_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_account(client)
    await client.post("/v1/accounts/recovery/start", json={"owner_email": OWNER})
    token = await latest_recovery_token(runtime)

    scanned = await client.get("/v1/accounts/recovery/complete", params={"token": token})
    opened = await client.get("/v1/accounts/recovery/complete", params={"token": token})
    completed = await client.post("/v1/accounts/recovery/complete", json={"token": token})

    assert scanned.status_code == opened.status_code == 200
    assert opened.headers["content-type"].startswith("text/html")
    assert 'action="/v1/accounts/recovery/confirm"' in opened.text
    assert "Confirm recovery" in opened.text
    assert completed.status_code == 200
    assert completed.json()["owner_email"] == OWNER


async def test_recovery_token_works_once(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await create_account(client)
    await client.post("/v1/accounts/recovery/start", json={"owner_email": OWNER})
    token = await latest_recovery_token(runtime)

    first = await client.post("/v1/accounts/recovery/complete", json={"token": token})
    second = await client.post("/v1/accounts/recovery/complete", json={"token": token})
    page = await client.get("/v1/accounts/recovery/complete", params={"token": token})

    assert (first.status_code, second.status_code, page.status_code) == (200, 401, 401)
    assert "not valid" in page.text


async def test_recovery_revokes_older_refresh_tokens_and_the_old_api_token(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    account = await create_account(client)
    await client.post("/v1/accounts/recovery/start", json={"owner_email": OWNER})

    recovered = await client.post(
        "/v1/accounts/recovery/complete", json={"token": await latest_recovery_token(runtime)}
    )

    old_refresh = await client.post("/v1/auth/refresh", json={"refresh_token": account["refresh_token"]})
    new_refresh = await client.post(
        "/v1/auth/refresh", json={"refresh_token": recovered.json()["refresh_token"]}
    )
    old_api = await client.get("/v1/mailboxes", headers={"X-API-Token": account["api_token"]})
    assert (old_refresh.status_code, new_refresh.status_code, old_api.status_code) == (401, 200, 401)


async def test_confirm_button_spends_the_token_and_shows_the_new_tokens(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_account(client)
    await client.post("/v1/accounts/recovery/start", json={"owner_email": OWNER})
    token = await latest_recovery_token(runtime)

    confirmed = await client.post("/v1/accounts/recovery/confirm", data={"token": token})
    again = await client.post("/v1/accounts/recovery/confirm", data={"token": token})

    assert confirmed.status_code == 200
    api_token = re.search(r'<pre id="api-token">(\S+)</pre>', confirmed.text)
    assert api_token is not None
    listing = await client.get("/v1/mailboxes", headers={"X-API-Token": api_token.group(1)})
    assert listing.status_code == 200
    assert again.status_code == 401
    assert confirmed.headers["cache-control"] == "no-store"
