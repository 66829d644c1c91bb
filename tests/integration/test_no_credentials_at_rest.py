"""After every flow that hands out a credential, no table of the database holds one that works.

The flows run over HTTP against SQLite and PostgreSQL, e-mail goes out through a local stand-in for
Resend (so recovery links are read as the owner receives them), and then every column of every row of
every table is searched for every credential handed out: mailbox access tokens, IMAP/POP3 passwords,
account api and refresh tokens, recovery codes and webhook signing secrets, both while e-mail is queued
and after it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from mailservice.bootstrap import Runtime
from mailservice.config import Settings
from mailservice.domain.clock import FixedClock
from mailservice.domain.secret_token import token_hash
from tests.conftest import resend_settings
from tests.support.agent import claim, claim_and_pay, signed_proof
from tests.support.fake_http import FakeApi, Recorded, Reply, fake_api
from tests.support.keys import AgentKey

OWNER = "owner@example.com"
SUPPORT = "support@operator.test"
_ACCOUNT_TOKEN = re.compile(r"\b(?:acc|ref|rec)_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def resend() -> Iterator[FakeApi]:
    with fake_api(lambda request: Reply(200, {"id": f"sent-{len(request.body)}"})) as running:
        yield running


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path, resend: FakeApi) -> Settings:
    return resend_settings(database_dsn, tmp_path, resend.url, support_email=SUPPORT)


@dataclass
class HandedOut:
    """Every credential the flows were given, by what it is."""

    found: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, value: object) -> None:
        assert isinstance(value, str) and len(value) >= 20, (kind, value)
        self.found.setdefault(kind, set()).add(value)

    def add_account_tokens(self, body: dict[str, Any]) -> None:
        self.add("api token", body["api_token"])
        self.add("refresh token", body["refresh_token"])

    def items(self) -> Iterator[tuple[str, str]]:
        for kind, values in self.found.items():
            for value in values:
                yield kind, value


def _sent_recovery_tokens(resend: FakeApi) -> list[str]:
    texts = [request.json()["text"] for request in resend.requests if _is_recovery(request)]
    return [token for body in texts for token in re.findall(r"recovery/complete\?token=(rec_[\w-]+)", body)]


def _is_recovery(request: Recorded) -> bool:
    return "recovery/complete?token=" in request.json().get("text", "")


async def _key_bound_flows(client: httpx.AsyncClient, handed: HandedOut) -> None:
    key = AgentKey.generate()
    paid = await claim_and_pay(client, key)
    handed.add("access token", paid["access_token"])
    handed.add("mail password", paid["password"])
    proof = await signed_proof(client, key)
    pop3 = (await client.post("/v1/access/resolve", json={"protocol": "pop3", **proof})).json()
    handed.add("mail password", pop3["password"])
    bearer = {"Authorization": f"Bearer {paid['access_token']}"}
    webhook = await client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/mail"}, headers=bearer
    )
    handed.add("webhook secret", webhook.json()["secret"].removeprefix("whsec_"))
    renewal = (await client.post("/v1/mailboxes/renew", json=await signed_proof(client, key))).json()
    assert (await client.get(renewal["payment_url"])).status_code == 200
    listed = await client.get("/v1/messages", headers={"Authorization": f"Bearer {paid['access_token']}"})
    assert listed.status_code == 200
    support = await client.post(
        "/v1/support/messages",
        json={**await signed_proof(client, key), "subject": "Help", "body": "Where is my mail?"},
    )
    assert support.status_code == 202
    unpaid = (await claim(client, AgentKey.generate(), billing_email="second@example.com")).json()
    if unpaid.get("access_token"):
        handed.add("access token", unpaid["access_token"])


async def _account_flows(client: httpx.AsyncClient, handed: HandedOut) -> None:
    account = (await client.post("/v1/accounts", json={"owner_email": OWNER})).json()
    handed.add_account_tokens(account)
    refreshed = (
        await client.post("/v1/auth/refresh", json={"refresh_token": account["refresh_token"]})
    ).json()
    handed.add_account_tokens(refreshed)
    headers = {"X-API-Token": refreshed["api_token"]}
    pending = (await client.post("/v1/mailboxes", headers=headers)).json()
    assert (await client.get(pending["payment_url"])).status_code == 200
    mailbox = (await client.get(f"/v1/mailboxes/{pending['id']}", headers=headers)).json()
    handed.add("access token", mailbox["access_token"])
    resolved = (await client.post("/v1/imap/resolve", json={"access_token": mailbox["access_token"]})).json()
    handed.add("mail password", resolved["password"])
    second = (await client.post("/v1/mailboxes", headers=headers)).json()
    handed.add("access token", second["access_token"])


async def _recover_twice(
    client: httpx.AsyncClient, runtime: Runtime, resend: FakeApi, clock: FixedClock, handed: HandedOut
) -> None:
    """Once by the API, once by the page's button: both spend a code and hand out new tokens."""
    assert (await client.post("/v1/accounts", json={"owner_email": OWNER})).status_code == 202
    await runtime.services.outbox.drain_once()
    first = _sent_recovery_tokens(resend)[-1]
    handed.add("recovery code", first)
    assert (await client.get("/v1/accounts/recovery/complete", params={"token": first})).status_code == 200
    completed = await client.post("/v1/accounts/recovery/complete", json={"token": first})
    handed.add_account_tokens(completed.json())

    clock.advance(timedelta(minutes=2))
    await client.post("/v1/accounts/recovery/start", json={"owner_email": OWNER})
    await runtime.services.outbox.drain_once()
    second = _sent_recovery_tokens(resend)[-1]
    handed.add("recovery code", second)
    page = await client.post(
        "/v1/accounts/recovery/confirm",
        content=f"token={second}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 200
    for token in _ACCOUNT_TOKEN.findall(page.text):
        handed.add("api token" if token.startswith("acc_") else "refresh token", token)


async def _start_recovery_left_unused(client: httpx.AsyncClient, clock: FixedClock) -> None:
    clock.advance(timedelta(minutes=2))
    response = await client.post("/v1/accounts/recovery/start", json={"owner_email": OWNER})
    assert response.status_code == 202


def _every_stored_value(connection: Connection) -> Iterator[tuple[str, str, str]]:
    """(table, column, the value as text) for every column of every row of every table."""
    for table in inspect(connection).get_table_names():
        rows = connection.execute(text(f'SELECT * FROM "{table}"')).mappings()
        for row in rows:
            for column, value in row.items():
                if isinstance(value, bytes | bytearray | memoryview):
                    yield table, column, bytes(value).decode("latin-1")
                elif value is not None:
                    yield table, column, str(value)


async def _stored(runtime: Runtime) -> list[tuple[str, str, str]]:
    async with runtime.engine.connect() as connection:
        return await connection.run_sync(lambda sync: list(_every_stored_value(sync)))


async def _credentials_at_rest(runtime: Runtime, handed: HandedOut) -> list[tuple[str, str, str]]:
    return [
        (table, column, kind)
        for table, column, value in await _stored(runtime)
        for kind, credential in handed.items()
        if credential in value
    ]


async def test_no_table_holds_a_credential_that_the_flows_handed_out(
    client: httpx.AsyncClient, runtime: Runtime, resend: FakeApi, clock: FixedClock
) -> None:
    # given: every flow that hands out a credential
    handed = HandedOut()
    await _key_bound_flows(client, handed)
    await _account_flows(client, handed)
    await _recover_twice(client, runtime, resend, clock, handed)
    # and a recovery e-mail still queued, its link live
    await _start_recovery_left_unused(client, clock)

    # when: the database is searched while that e-mail waits, then after it is sent
    while_queued = await _credentials_at_rest(runtime, handed)
    assert (await runtime.services.outbox.drain_once()).sent == 1
    unused = _sent_recovery_tokens(resend)[-1]
    handed.add("recovery code", unused)
    after_sending = await _credentials_at_rest(runtime, handed)

    # then: the flows handed out every kind of credential, and none of them is stored
    assert sorted(handed.found) == [
        "access token",
        "api token",
        "mail password",
        "recovery code",
        "refresh token",
        "webhook secret",
    ]
    assert (await client.get("/v1/accounts/recovery/complete", params={"token": unused})).status_code == 200
    assert while_queued == []
    assert after_sending == []


async def test_the_search_finds_what_is_stored(client: httpx.AsyncClient, runtime: Runtime) -> None:
    # given: an account, whose token is stored as its hash
    account = (await client.post("/v1/accounts", json={"owner_email": OWNER})).json()
    # when
    stored = await _stored(runtime)
    # then: the search reads the accounts table and sees the owner and the hash
    assert ("accounts", "owner_email", OWNER) in stored
    assert any(value == token_hash(account["api_token"]) for _, _, value in stored)
