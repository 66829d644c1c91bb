"""Outbound webhook connections: only checked addresses, no redirects, answers read in part, a time limit.

A hosts-like resolver makes names resolve where each test needs them; the receiver is a real server on
loopback."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from mailservice.adapters.webhooks.guarded_connect import IpAddress, StaticResolver
from mailservice.adapters.webhooks.sender import HttpWebhookSender
from mailservice.bootstrap import check_settings
from mailservice.config import Settings
from mailservice.domain.errors import ConfigurationError
from tests.conftest import TEST_SECRET
from tests.support.fake_http import Recorded, Reply, fake_api
from tests.support.webhooks import receiver

SECRET = "whsec_" + "c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE="
NAMES = {
    "receiver.test": ["127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "10.1.2.3"],
    "mapped.test": ["::ffff:127.0.0.1"],
}


def sender(allow_private: bool, timeout: float = 2.0) -> HttpWebhookSender:
    return HttpWebhookSender(StaticResolver(NAMES), allow_private, timeout, max_connections=4)


async def test_a_name_is_connected_to_at_the_address_it_resolved_to_with_its_own_host_header() -> None:
    with receiver() as hook:
        port = hook.api.url.rsplit(":", 1)[1]
        result = await sender(allow_private=True).send(
            f"http://receiver.test:{port}/hook", SECRET, "msg_1", "{}"
        )

        [request] = hook.requests
    assert (result.status_code, result.error) == (200, None)
    assert request.headers["host"] == f"receiver.test:{port}"
    assert request.headers["webhook-id"] == "msg_1"


@pytest.mark.parametrize(
    ("url", "allow_private", "reason"),
    [
        ("http://receiver.test:9/", False, "a loopback address"),
        ("http://127.0.0.1:9/", False, "a loopback address"),
        ("http://[::1]:9/", False, "a loopback address"),
        ("http://10.0.0.8/", False, "a private address"),
        ("http://[fd00::1]/", False, "a private address"),
        ("http://mixed.test/", False, "a private address"),
        ("http://metadata.test/", True, "a link-local address"),
        ("http://169.254.169.254/", True, "a link-local address"),
        ("http://[fe80::1]/", True, "a link-local address"),
        ("http://mapped.test/", True, "an IPv4-mapped IPv6 address"),
        ("http://0.0.0.0/", True, "an unspecified address"),
        ("http://239.1.1.1/", True, "a multicast address"),
        ("http://240.0.0.1/", True, "a reserved address"),
    ],
)
async def test_refused_addresses_are_never_connected_to(url: str, allow_private: bool, reason: str) -> None:
    result = await sender(allow_private).send(url, SECRET, "msg_1", "{}")

    assert result.status_code is None
    assert result.error is not None and result.error.startswith("refused:") and reason in result.error


async def test_a_name_that_does_not_resolve_is_a_failed_attempt() -> None:
    result = await sender(True).send("http://nowhere.test/", SECRET, "msg_1", "{}")
    assert result.error is not None and "cannot resolve nowhere.test" in result.error


async def test_redirects_are_not_followed() -> None:
    def redirect(recorded: Recorded) -> Reply:
        return Reply(302, None, {"Location": "http://169.254.169.254/latest/meta-data"})

    with fake_api(redirect) as api:
        result = await sender(True).send(api.url + "/hook", SECRET, "msg_1", "{}")

        assert len(api.requests) == 1
    assert (result.status_code, result.error) == (302, "HTTP 302 (redirects are not followed)")


async def test_a_huge_answer_is_read_only_in_part() -> None:
    with fake_api(lambda recorded: Reply(200, b"x" * 50_000_000)) as api:
        result = await sender(True).send(api.url + "/hook", SECRET, "msg_1", "{}")

    assert (result.status_code, result.error) == (200, None)


def test_private_addresses_cannot_be_allowed_in_production() -> None:
    settings = Settings(
        _env_file=None,
        mailservice_env="production",
        secret_key=TEST_SECRET,
        webhook_allow_private=True,
        database_dsn="sqlite:///unused.db",
    )
    with pytest.raises(ConfigurationError, match="WEBHOOK_ALLOW_PRIVATE"):
        check_settings(settings)


class CountingResolver(StaticResolver):
    """A hosts-like resolver that counts how often a name is resolved (once per new connection)."""

    def __init__(self) -> None:
        super().__init__(NAMES)
        self.resolved = 0

    async def resolve(self, host: str, port: int) -> list[IpAddress]:
        self.resolved += 1
        return await super().resolve(host, port)


async def test_connections_are_kept_per_endpoint_url_and_only_new_ones_are_resolved_and_checked() -> None:
    connections: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    resolver = CountingResolver()
    hooks = HttpWebhookSender(resolver, allow_private=True, timeout_seconds=2.0, max_connections=4)
    try:
        results = [
            await hooks.send(f"http://receiver.test:{port}/{path}", SECRET, f"msg_{n}", "{}")
            for n, path in enumerate(["a", "a", "b", "a", "b"])
        ]
    finally:
        await hooks.close()
        server.close()
        await server.wait_closed()

    assert [result.status_code for result in results] == [204] * 5
    assert len(connections) == 2  # one kept alive for /a, one for /b
    assert resolver.resolved == 2
