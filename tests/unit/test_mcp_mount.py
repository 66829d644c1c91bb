"""/mcp starts its transport on the first request, not with the app: the `mcp` package is imported then,
once, and the transport stops with the app's lifespan."""

from __future__ import annotations

import asyncio
import importlib
import logging
import types
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from mailservice.protocols.mcp import mount

HOSTED = "mailservice.protocols.mcp.hosted"


class FakeHosted:
    """Stands for the hosted module: counts imports, and whether its transport is running."""

    def __init__(self, fails: bool = False) -> None:
        self.imports = 0
        self.running = False
        self.fails = fails

    def import_module(self, real: Callable[[str], types.ModuleType]) -> Callable[[str], Any]:
        def imported(name: str) -> Any:
            if name != HOSTED:
                return real(name)
            self.imports += 1
            if self.fails:
                raise ImportError("no mcp here")
            return types.SimpleNamespace(hosted_transport=self.hosted_transport)

        return imported

    @asynccontextmanager
    async def hosted_transport(self, app: FastAPI) -> AsyncIterator[Any]:
        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse("from the transport")(scope, receive, send)

        self.running = True
        try:
            yield answer
        finally:
            self.running = False


@pytest.fixture
def app() -> FastAPI:
    built = FastAPI()
    mount.mount_mcp(built)
    return built


def fake_hosted(monkeypatch: pytest.MonkeyPatch, fails: bool = False) -> FakeHosted:
    hosted = FakeHosted(fails)
    monkeypatch.setattr(importlib, "import_module", hosted.import_module(importlib.import_module))
    return hosted


async def post(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        return await http.post(mount.MCP_PATH, json={})


async def test_the_transport_starts_on_the_first_request_once_and_stops_with_the_app(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosted = fake_hosted(monkeypatch)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.05)
        assert (hosted.imports, hosted.running) == (0, False)  # a start imports nothing of MCP

        answers = await asyncio.gather(post(app), post(app), post(app))
        assert [a.text for a in answers] == ["from the transport"] * 3
        assert (await post(app)).text == "from the transport"
        assert (hosted.imports, hosted.running) == (1, True)
    assert not hosted.running
    assert (await post(app)).status_code == 503  # stopped with the app


async def test_an_app_stopped_before_any_request_never_imports_mcp(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosted = fake_hosted(monkeypatch)
    async with app.router.lifespan_context(app):
        pass
    assert hosted.imports == 0


async def test_a_transport_that_fails_to_start_answers_503_and_is_logged_once(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake_hosted(monkeypatch, fails=True)
    with caplog.at_level(logging.ERROR, logger=mount.__name__):
        async with app.router.lifespan_context(app):
            first, second = await post(app), await post(app)
    assert (first.status_code, second.status_code) == (503, 503)
    assert first.json()["code"] == "unavailable"
    assert [r.message for r in caplog.records] == ["mcp.failed_to_start"]


async def test_without_the_lifespan_the_endpoint_answers_503(app: FastAPI) -> None:
    answer = await post(app)
    assert answer.status_code == 503
