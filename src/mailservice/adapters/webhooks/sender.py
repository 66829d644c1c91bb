"""POST a signed webhook: Standard Webhooks headers, no redirects, a time limit, the answer read only in part.

Connections are kept alive in one pool per endpoint URL (at most `max_connections` each; the worker
sends no more than `WEBHOOK_ENDPOINT_CONCURRENCY` at a time to one endpoint): httpcore looks at every
connection of a pool to place a request, so one pool for all endpoints cost each POST a walk over
every endpoint's connections. A pool unused for `KEEPALIVE_SECONDS` is closed. Every new connection
still goes through the guarded backend (checked addresses, no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpcore
from standardwebhooks.webhooks import Webhook

from mailservice.adapters.trusted_tls import verifying_context
from mailservice.adapters.webhooks.guarded_connect import GuardedBackend, HostResolver, RefusedAddress
from mailservice.domain.webhooks import SendResult

MAX_RESPONSE_BYTES = 4096
USER_AGENT = "mailservice-webhooks/1"
KEEPALIVE_SECONDS = 30.0


class HttpWebhookSender:
    def __init__(
        self,
        resolver: HostResolver,
        allow_private: bool,
        timeout_seconds: float,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._max_connections = max_connections
        self._ssl_context = ssl_context or verifying_context()
        self._backend = GuardedBackend(resolver, allow_private)
        self._pools: dict[str, _Pool] = {}
        self._swept_at = time.monotonic()

    async def send(self, url: str, secret: str, message_id: str, payload: str) -> SendResult:
        """One attempt; whatever happens, the outcome (never an exception) and how long it took.

        `webhook-timestamp` is the system clock's: receivers compare it with theirs to refuse replays."""
        timestamp = datetime.now(UTC)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                status = await self._post(
                    url, _headers(secret, message_id, timestamp, payload), payload.encode()
                )
        except TimeoutError:
            return SendResult(None, _since(started), f"timed out after {self._timeout:g} s")
        except RefusedAddress as error:
            return SendResult(None, _since(started), str(error))
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
            return SendResult(None, _since(started), f"cannot connect: {error or type(error).__name__}")
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as error:
            return SendResult(None, _since(started), f"{type(error).__name__}: {error}")
        except httpcore.UnsupportedProtocol as error:
            return SendResult(None, _since(started), f"unsupported URL: {error}")
        return SendResult(status, _since(started), _status_error(status))

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.connections.aclose()

    def _pool_of(self, url: str) -> _Pool:
        pool = self._pools.get(url)
        if pool is None:
            pool = _Pool(
                httpcore.AsyncConnectionPool(
                    ssl_context=self._ssl_context,
                    max_connections=self._max_connections,
                    keepalive_expiry=KEEPALIVE_SECONDS,
                    retries=0,
                    network_backend=self._backend,
                )
            )
            self._pools[url] = pool
        return pool

    async def _close_unused_pools(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < KEEPALIVE_SECONDS:
            return
        self._swept_at = now
        unused = [
            url
            for url, pool in self._pools.items()
            if pool.sending == 0 and now - pool.used_at >= KEEPALIVE_SECONDS
        ]
        for url in unused:
            await self._pools.pop(url).connections.aclose()

    async def _post(self, url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        timeouts = {
            "connect": self._timeout,
            "read": self._timeout,
            "write": self._timeout,
            "pool": self._timeout,
        }
        await self._close_unused_pools()
        pool = self._pool_of(url)
        pool.sending += 1
        try:
            async with pool.connections.stream(
                "POST", url, headers=headers, content=body, extensions={"timeout": timeouts}
            ) as response:
                read = 0
                async for chunk in response.aiter_stream():  # the answer is not kept; a few KiB are enough
                    read += len(chunk)
                    if read >= MAX_RESPONSE_BYTES:
                        break
                return response.status
        finally:
            pool.sending -= 1
            pool.used_at = time.monotonic()


@dataclass
class _Pool:
    connections: httpcore.AsyncConnectionPool
    sending: int = 0
    used_at: float = field(default_factory=time.monotonic)


def _headers(secret: str, message_id: str, timestamp: datetime, payload: str) -> list[tuple[bytes, bytes]]:
    signature = _signer(secret).sign(message_id, timestamp, payload)
    return [
        (b"content-type", b"application/json"),
        (b"user-agent", USER_AGENT.encode()),
        (b"webhook-id", message_id.encode()),
        (b"webhook-timestamp", str(int(timestamp.timestamp())).encode()),
        (b"webhook-signature", signature.encode()),
    ]


@functools.lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    """The signer of a secret, kept: it decodes the secret once, not at every POST."""
    return Webhook(secret)


def _status_error(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)"
    return f"HTTP {status}"


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
