"""The whole key-bound flow against a real server process, as an agent with a shell would do it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.agent import SigningKey, claim, resolve
from tests.support.keys import AgentKey, SshKeygenKey
from tests.support.server import ServerProcess, until_ended

pytestmark = [pytest.mark.slow, pytest.mark.own_server]


async def run_flow(server: ServerProcess, key: SigningKey) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        claimed = await claim(client, key, billing_email="Billing@Example.com")
        assert claimed.status_code == 201, claimed.text
        mailbox = claimed.json()
        assert mailbox["payment_url"].startswith(f"{server.base_url}/mock/pay/mock_")

        assert (await resolve(client, key)).status_code == 409
        paid = await client.get(mailbox["payment_url"])
        assert paid.status_code == 200, paid.text
        resolved = await resolve(client, key)

    assert resolved.status_code == 200, resolved.text
    details = resolved.json()
    assert set(details) == {
        "mailbox_id",
        "host",
        "port",
        "username",
        "password",
        "email",
        "access_token",
        "expires_at",
    }
    assert details["mailbox_id"] == mailbox["id"]
    assert details["email"] == mailbox["email"]
    assert re.fullmatch(r"mbx_[0-9a-f]{11}", details["username"])
    assert details["email"] == f"{details['username']}@agents.test"
    assert details["host"] == "localhost"  # development: where the listeners are
    assert details["port"] == server.imap_port
    assert len(details["password"]) == 43
    assert details["access_token"].startswith(f"mat_{details['mailbox_id']}.")
    assert details["expires_at"] == paid.json()["expires_at"].replace("+00:00", "Z")


async def test_agent_with_ssh_keygen_claims_pays_and_resolves(server: ServerProcess, tmp_path: Path) -> None:
    await run_flow(server, SshKeygenKey.generate(tmp_path))
    children = server.child_pids()  # the parser worker and the webhook sender

    assert server.stop() == 0
    assert "billing@example.com" in server.log()
    assert "mailservice.stopped" in server.log()
    assert len(children) >= 2
    await until_ended(children)  # none outlives the server


async def test_agent_with_raw_ed25519_signature_claims_pays_and_resolves(server: ServerProcess) -> None:
    await run_flow(server, AgentKey.generate())

    assert server.stop() == 0
