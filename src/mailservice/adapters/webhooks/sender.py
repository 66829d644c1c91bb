"""POST a signed webhook: Standard Webhooks headers, no redirects, a time limit, the answer read only in part."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from datetime import UTC, datetime

import httpcore
from standardwebhooks.webhooks import Webhook

from mailservice.adapters.webhooks.guarded_connect import GuardedBackend, HostResolver, RefusedAddress
from mailservice.domain.webhooks import SendResult

MAX_RESPONSE_BYTES = 4096
USER_AGENT = "mailservice-webhooks/1"


@functools.cache
def _verifying_context() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once per process: loading them takes tens of ms."""
    return ssl.create_default_context()


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
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or _verifying_context(),
            max_connections=max_connections,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=GuardedBackend(resolver, allow_private),
        )

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
        await self._pool.aclose()

    async def _post(self, url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        timeouts = {
            "connect": self._timeout,
            "read": self._timeout,
            "write": self._timeout,
            "pool": self._timeout,
        }
        async with self._pool.stream(
            "POST", url, headers=headers, content=body, extensions={"timeout": timeouts}
        ) as response:
            read = 0
            async for chunk in response.aiter_stream():  # the answer is not kept; a few KiB are enough
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
            return response.status


def _headers(secret: str, message_id: str, timestamp: datetime, payload: str) -> list[tuple[bytes, bytes]]:
    signature = Webhook(secret).sign(message_id, timestamp, payload)
    return [
        (b"content-type", b"application/json"),
        (b"user-agent", USER_AGENT.encode()),
        (b"webhook-id", message_id.encode()),
        (b"webhook-timestamp", str(int(timestamp.timestamp())).encode()),
        (b"webhook-signature", signature.encode()),
    ]


def _status_error(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)"
    return f"HTTP {status}"


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
