"""The landing page, the agent guide and llms.txt, the legal pages and the OpenAPI docs."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import httpx
import pytest

from mailservice.config import Settings
from tests.conftest import BASE_URL, make_settings

REPO = Path(__file__).resolve().parents[2]
GUIDE_SOURCE = REPO / "docs" / "agent-guide.md"


@pytest.fixture
def settings(database_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_dsn, tmp_path, build_number="1234", cache_buster="cb-77", mailbox_price_cents=299
    )


async def test_landing_page_shows_the_agent_quick_start(client: httpx.AsyncClient) -> None:
    page = await client.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert f"{BASE_URL}/v1/mailboxes/claim" in page.text
    assert "/v1/access/resolve" in page.text
    assert "ssh-keygen -t ed25519" in page.text


async def test_landing_page_answers_304_to_a_matching_etag(client: httpx.AsyncClient) -> None:
    etag = (await client.get("/")).headers["etag"]

    cached = await client.get("/", headers={"If-None-Match": etag})
    stale = await client.get("/", headers={"If-None-Match": '"old-build"'})

    assert cached.status_code == 304
    assert cached.content == b""
    assert stale.status_code == 200


async def test_landing_page_uses_build_number_and_cache_buster(client: httpx.AsyncClient) -> None:
    page = await client.get("/")

    assert page.headers["etag"] == '"1234"'
    assert "Build <code>1234</code>" in page.text
    assert "cache <code>cb-77</code>" in page.text
    assert "/docs/agent-api-skill.md?v=cb-77" in page.text
    assert "2.99 USD a month" in page.text


async def test_agent_guide_is_served_from_docs_agent_guide(client: httpx.AsyncClient) -> None:
    skill = await client.get("/docs/agent-api-skill.md")
    llms = await client.get("/llms.txt")

    expected = GUIDE_SOURCE.read_text(encoding="utf-8").replace("http://localhost:8080", BASE_URL)
    assert skill.status_code == llms.status_code == 200
    assert skill.headers["content-type"] == "text/markdown; charset=utf-8"
    assert skill.text == expected
    assert llms.text.startswith("# Mail Service\n\n> ")
    assert f"({BASE_URL}/docs/agent-api-skill.md)" in llms.text
    assert llms.text.endswith(expected)


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/terms", "Terms of service"),
        ("/privacy", "Privacy"),
        ("/refund-policy", "Refund policy"),
        ("/contact", "Contact"),
    ],
)
async def test_legal_pages_are_html_with_a_strict_policy(
    client: httpx.AsyncClient, path: str, heading: str
) -> None:
    page = await client.get(path)

    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy


async def test_openapi_docs_list_every_area(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    schema = (await client.get("/openapi.json")).json()

    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    for path in (
        "/v1/accounts",
        "/v1/auth/refresh",
        "/v1/mailboxes",
        "/v1/imap/resolve",
        "/v1/support/messages",
        "/admin/metrics",
        "/v1/mailboxes/claim",
    ):
        assert path in schema["paths"], path


async def test_openapi_declares_the_answers_every_route_shares(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = {(method, path): op for path, ops in schema["paths"].items() for method, op in ops.items()}

    assert not [key for key, op in operations.items() if "422" in op["responses"]]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "400" in operations[("get", "/v1/payments/polar/success")]["responses"]
    assert {"408", "413", "429"} <= set(operations[("post", "/v1/mailboxes/claim")]["responses"])
    assert "503" in operations[("get", "/v1/messages/{uid}")]["responses"]
    assert "503" not in operations[("get", "/healthz")]["responses"]
    assert "503" not in operations[("get", "/v1/messages/wait")]["responses"]
    metrics_error = operations[("get", "/metrics")]["responses"]["401"]["content"]
    assert list(metrics_error) == ["application/json"]
    events = operations[("get", "/v1/events")]["responses"]
    assert {"200", "400", "401", "409"} <= set(events)
    assert set(events["200"]["content"]) == {"application/json", "text/event-stream"}
    assert events["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventPageOut"
    }


@pytest.mark.slow
def test_the_wheel_carries_the_agent_guide(tmp_path: Path) -> None:
    uv = REPO / ".tools" / "bin" / "uv"
    command = str(uv) if uv.exists() else shutil.which("uv")
    assert command is not None, "uv is needed to build the wheel"

    subprocess.run([command, "build", "--wheel", "--out-dir", str(tmp_path), "-q"], cwd=REPO, check=True)

    (wheel,) = tmp_path.glob("mailservice-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = archive.read("mailservice/agent-guide.md").decode("utf-8")
        assert "mailservice/templates/pages/landing.html" in archive.namelist()
    assert packaged == GUIDE_SOURCE.read_text(encoding="utf-8")
