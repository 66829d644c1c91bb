"""A line-protocol listener: each connection takes a slot of the protocol's `ConnectionLimits`
(and so of the process cap) or is refused at once with the protocol's reply.

On an implicit-TLS listener the slot is taken once the handshake is done; the handshake itself must
end within `handshake_timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailservice.protocols.connection_policy import ConnectionLimits
from mailservice.protocols.lines.line_reader import STREAM_LIMIT

log = logging.getLogger(__name__)

ServeConnection = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class Listener:
    protocol: str
    host: str
    port: int
    tls: ssl.SSLContext | None
    limits: ConnectionLimits
    refusal: bytes
    handshake_timeout_seconds: float


async def start_listener(listener: Listener, serve_connection: ServeConnection) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ip = peer_address(writer)
        if not listener.limits.try_acquire(ip):
            log.warning("%s.connection_refused ip=%s reason=limit", listener.protocol, ip)
            writer.write(listener.refusal)
            writer.close()
            return
        try:
            await serve_connection(reader, writer)
        except asyncio.CancelledError:
            writer.close()  # the event loop is shutting down; nothing awaits this task
        finally:
            listener.limits.release(ip)

    return await asyncio.start_server(
        serve,
        listener.host,
        listener.port,
        ssl=listener.tls,
        ssl_handshake_timeout=listener.handshake_timeout_seconds if listener.tls else None,
        limit=STREAM_LIMIT,
    )


def peer_address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
