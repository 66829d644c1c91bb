"""A real server configured for Polar with the seed's variable names: claim, pay at (fake) Polar, the
signed webhook arrives, the agent resolves; a half-configured Polar refuses to start with a message."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.agent import claim, resolve
from tests.support.databases import migrated_sqlite_copy
from tests.support.fake_polar import fake_polar, signed_delivery
from tests.support.keys import AgentKey
from tests.support.server import MAILSERVICE, ServerProcess

pytestmark = pytest.mark.slow

WEBHOOK_SECRET = "polar_whs_e2e_secret"


async def test_agent_pays_with_polar_and_the_webhook_activates_the_mailbox(tmp_path: Path) -> None:
    with fake_polar(lambda: datetime.now(UTC)) as polar:
        server = ServerProcess(
            tmp_path,
            migrated_sqlite_copy(tmp_path / "data"),
            extra_env={
                "POLAR_TOKEN": "polar_oat_e2e",
                "POLAR_PRODUCT_ID": "prod_e2e",
                "POLAR_SERVER_URL": polar.url,
                "POLAR_WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
        )
        server.start()
        try:
            key = AgentKey.generate()
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
                claimed = (await claim(client, key)).json()
                [checkout_id] = polar.checkouts
                assert claimed["payment_url"] == polar.checkouts[checkout_id]["url"]
                assert (await resolve(client, key)).status_code == 409

                polar.set_status(checkout_id, "succeeded")
                event = {"type": "checkout.updated", "data": polar.checkouts[checkout_id]}
                body, headers = signed_delivery(WEBHOOK_SECRET, event)
                delivered = await client.post("/v1/webhooks/polar", content=body, headers=headers)
                resolved = await resolve(client, key)
        finally:
            assert server.stop() == 0

    assert delivered.json() == {"status": "processed"}
    assert resolved.status_code == 200
    assert "payments=polar" in server.log()


def test_half_configured_polar_refuses_to_start_with_a_message(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path, str(tmp_path / "data" / "mailservice.db"), extra_env={"POLAR_TOKEN": "x"}
    )

    finished = subprocess.run(
        [MAILSERVICE, "serve"], cwd=tmp_path, env=server.env(), capture_output=True, text=True, timeout=60
    )

    assert finished.returncode != 0
    assert "Polar payments are half-configured: set POLAR_PRODUCT_ID" in finished.stderr
    assert "Traceback" not in finished.stderr
