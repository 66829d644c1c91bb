"""The agent's side of the HTTP flow, as test steps: get a challenge, sign it, claim, pay, resolve."""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class SigningKey(Protocol):
    @property
    def public_line(self) -> str: ...

    def sign(self, challenge: str) -> str: ...


async def new_challenge(client: httpx.AsyncClient, public_key: str) -> str:
    response = await client.post("/v1/auth/challenge", json={"public_key": public_key})
    assert response.status_code == 200, response.text
    challenge: str = response.json()["challenge"]
    return challenge


async def signed_proof(client: httpx.AsyncClient, key: SigningKey) -> dict[str, str]:
    challenge = await new_challenge(client, key.public_line)
    return {"edproof": key.public_line, "challenge": challenge, "signature": key.sign(challenge)}


async def claim(
    client: httpx.AsyncClient, key: SigningKey, billing_email: str = "billing@example.com"
) -> httpx.Response:
    proof = await signed_proof(client, key)
    return await client.post("/v1/mailboxes/claim", json={"billing_email": billing_email, **proof})


async def resolve(client: httpx.AsyncClient, key: SigningKey) -> httpx.Response:
    proof = await signed_proof(client, key)
    return await client.post("/v1/access/resolve", json={"protocol": "imap", **proof})


async def claim_and_pay(client: httpx.AsyncClient, key: SigningKey) -> dict[str, Any]:
    claimed = await claim(client, key)
    assert claimed.status_code == 201, claimed.text
    paid = await client.get(claimed.json()["payment_url"])
    assert paid.status_code == 200, paid.text
    resolved = await resolve(client, key)
    assert resolved.status_code == 200, resolved.text
    details: dict[str, Any] = resolved.json()
    return details
