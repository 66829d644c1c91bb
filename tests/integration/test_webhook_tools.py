"""Webhooks through the Python client, the `mailservice agent webhooks` commands and the MCP tools."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from typer.testing import CliRunner

from mailservice.bootstrap import Runtime
from mailservice.client import AgentKey, AsyncMailClient, InvalidRequest
from mailservice.client.cli import app
from mailservice.config import Settings
from mailservice.protocols.mcp.local import local_server
from tests.support.webhooks import receiver, run_worker, webhook_settings


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return webhook_settings(database_dsn, tmp_path)


async def paid_client(client: httpx.AsyncClient, key: AgentKey) -> AsyncMailClient:
    mail = AsyncMailClient(str(client.base_url), key=key, http=client)
    claimed = await mail.claim("billing@example.com")
    assert claimed.payment_url is not None
    assert (await client.get(claimed.payment_url)).status_code == 200
    return mail


async def test_the_client_manages_webhooks_and_follows_deliveries(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    mail = await paid_client(client, AgentKey.generate())
    with receiver() as hook:
        created = await mail.create_webhook(hook.url, ["message.received"], "from:github")
        queued = await mail.test_webhook(created.id)
        await run_worker(runtime)
        again = await mail.retry_webhook_delivery(created.id, queued.id)
        await run_worker(runtime)
        listed = await mail.list_webhooks()
        shown = await mail.get_webhook(created.id)
        enabled = await mail.enable_webhook(created.id)
        sent = await mail.webhook_deliveries(created.id)
        await mail.delete_webhook(created.id)

    assert created.secret.startswith("whsec_") and created.q == "from:github"
    assert [w.id for w in listed.webhooks] == [created.id] and shown.events == ["message.received"]
    assert again.webhook_id == queued.webhook_id
    assert (enabled.id, enabled.disabled_at) == (created.id, None)
    [delivery] = sent.deliveries
    assert [a.status_code for a in delivery.attempts] == [200, 200]
    assert (await mail.list_webhooks()).webhooks == []
    try:
        await mail.create_webhook("ftp://example.com/")
    except InvalidRequest as error:
        assert error.code == "unsafe_webhook_url"
    else:
        raise AssertionError("an ftp URL was accepted")


async def test_the_mcp_tools_manage_webhooks(client: httpx.AsyncClient, runtime: Runtime) -> None:
    mail = await paid_client(client, AgentKey.generate())
    async with Client(local_server(mail)) as mcp:
        created = await _tool(mcp, "create_webhook", url="https://hooks.example.com/mail")
        listed = await _tool(mcp, "list_webhooks")
        queued = await _tool(mcp, "test_webhook", webhook_id=created["id"])
        sent = await _tool(mcp, "webhook_deliveries", webhook_id=created["id"])
        deleted = await _tool(mcp, "delete_webhook", webhook_id=created["id"])

    assert created["secret"].startswith("whsec_")
    assert [w["id"] for w in listed["webhooks"]] == [created["id"]]
    assert [d["id"] for d in sent["deliveries"]] == [queued["id"]]
    assert deleted == {"deleted": created["id"]}


async def test_the_agent_commands_manage_webhooks(
    client: httpx.AsyncClient, live: httpx.AsyncClient, tmp_path: Path
) -> None:
    key = AgentKey.generate()
    key_file = tmp_path / "agent_key"
    key.save(key_file)
    await paid_client(client, key)
    common = ["--url", str(live.base_url), "--key", str(key_file), "--json"]

    added = await _agent("webhooks", "add", "https://hooks.example.com/m", "-e", "message.received", *common)
    listed = await _agent("webhooks", "list", *common)
    enabled = await _agent("webhooks", "enable", added["id"], *common)
    deleted = await _agent("webhooks", "delete", added["id"], *common)

    assert added["secret"].startswith("whsec_") and added["events"] == ["message.received"]
    assert [w["id"] for w in listed["webhooks"]] == [added["id"]]
    assert (enabled["id"], enabled["disabled_at"]) == (added["id"], None)
    assert deleted == {"deleted": added["id"]}


async def _agent(*arguments: str) -> Any:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(arguments))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def _tool(mcp: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await mcp.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)
