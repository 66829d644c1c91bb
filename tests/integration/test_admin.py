"""The admin API and its CLI: metrics (JSON and Prometheus) and mailbox reprovisioning."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner, Result

from mailservice.adapters.db.tables import folders
from mailservice.bootstrap import Runtime, build_runtime
from mailservice.cli.main import app as cli_app
from mailservice.config import Settings
from tests.conftest import TEST_SECRET, make_settings
from tests.support.agent import claim, claim_and_pay, signed_proof
from tests.support.keys import AgentKey

ADMIN_KEY = "admin-key-for-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(database_dsn, tmp_path, admin_api_key=ADMIN_KEY)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/metrics"),
        ("GET", "/metrics"),
        ("POST", "/admin/mailboxes/reprovision"),
        ("POST", "/admin/payments/reconcile"),
    ],
)
async def test_admin_endpoints_refuse_a_missing_or_wrong_key(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    missing = await client.request(method, path)
    wrong = await client.request(
        method, path, headers={"Authorization": "Bearer admin-key-for-tests-012345678"}
    )

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert wrong.json()["error"] == "invalid admin key"


async def test_admin_endpoints_are_503_without_an_admin_key(database_dsn: str, tmp_path: Path) -> None:
    runtime = await build_runtime(make_settings(database_dsn, tmp_path))
    try:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/admin/metrics", headers=ADMIN)
    finally:
        await runtime.close()

    assert response.status_code == 503


async def test_admin_metrics_count_the_store_and_this_nodes_requests(client: httpx.AsyncClient) -> None:
    await claim_and_pay(client, AgentKey.generate())
    await claim(client, AgentKey.generate())
    forged = await signed_proof(client, AgentKey.generate())
    await client.post("/v1/access/resolve", json={**forged, "signature": AgentKey.generate().sign("x")})
    await client.get("/v1/mailboxes/nothing-here")

    metrics = (await client.get("/admin/metrics", headers=ADMIN)).json()

    assert metrics["store"]["mailboxes"] == {"active": 1, "pending_payment": 1}
    assert metrics["store"]["checkouts"] == {"open": 1, "paid": 1}
    assert metrics["store"]["accounts"] == {"total": 0}
    assert metrics["http"]["key_proofs"] == {"total": 4, "ok": 3, "failed": 1}
    assert metrics["http"]["resolves"] == {"total": 2, "ok": 1, "failed": 1}
    routes = {(r["method"], r["route"]): r for r in metrics["http"]["routes"]}
    assert routes[("POST", "/v1/mailboxes/claim")]["count"] == 2
    assert {"p50", "p90", "p99"} <= set(routes[("POST", "/v1/mailboxes/claim")])
    assert {"method": "GET", "route": "/v1/mailboxes/{mailbox_id}", "status": 401, "count": 1} in metrics[
        "http"
    ]["top_errors"]


async def test_prometheus_metrics_use_the_text_format(client: httpx.AsyncClient) -> None:
    await claim(client, AgentKey.generate())

    response = await client.get("/metrics", headers=ADMIN)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    lines = response.text.splitlines()
    assert "# TYPE mailservice_http_requests_total counter" in lines
    assert (
        'mailservice_http_requests_total{method="POST",route="/v1/mailboxes/claim",status="201"} 1.0' in lines
    )
    assert (
        'mailservice_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/mailboxes/claim"} 1.0'
        in lines
    )
    assert 'mailservice_store_rows{status="pending_payment",table="mailboxes"} 1.0' in lines


async def test_prometheus_metrics_speak_openmetrics_when_asked(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers={**ADMIN, "Accept": "application/openmetrics-text"})

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_reprovision_restores_a_missing_inbox_and_rotates_credentials(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    async with runtime.engine.begin() as connection:
        await connection.execute(delete(folders).where(folders.c.mailbox_id == details["mailbox_id"]))

    repaired = await client.post(
        "/admin/mailboxes/reprovision",
        headers=ADMIN,
        json={"mailbox_id": details["mailbox_id"], "rotate_credentials": True},
    )
    old_token = await client.get(
        "/v1/messages", headers={"Authorization": f"Bearer {details['access_token']}"}
    )
    again = await client.post("/admin/mailboxes/reprovision", headers=ADMIN)
    unknown = await client.post("/admin/mailboxes/reprovision", headers=ADMIN, json={"mailbox_id": "nope"})

    assert repaired.status_code == 200
    assert repaired.json() == {
        "status": "ok",
        "checked": 1,
        "inboxes_created": 1,
        "expired": 0,
        "credentials_rotated": 1,
    }
    assert old_token.status_code == 401
    assert again.json()["inboxes_created"] == 0
    assert unknown.status_code == 404


async def test_admin_cli_prints_counts_and_reprovisions(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    details = await claim_and_pay(client, AgentKey.generate())
    env = {"DATABASE_DSN": settings.database_dsn, "SECRET_KEY": TEST_SECRET, "DATA_DIR": str(tmp_path)}
    runner = CliRunner()

    counts = await _invoke(runner, ["admin", "metrics"], env)
    repaired = await _invoke(runner, ["admin", "reprovision", "--mailbox-id", details["mailbox_id"]], env)
    unknown = await _invoke(runner, ["admin", "reprovision", "--mailbox-id", "nope"], env)

    assert counts.exit_code == 0, counts.output
    assert json.loads(counts.output)["mailboxes"] == {"active": 1}
    assert json.loads(repaired.output)["checked"] == 1
    assert unknown.exit_code == 1


async def _invoke(runner: CliRunner, args: list[str], env: dict[str, str]) -> Result:
    """The CLI runs its own event loop, so it runs in a thread of its own."""
    return await asyncio.to_thread(runner.invoke, cli_app, args, env=env)
