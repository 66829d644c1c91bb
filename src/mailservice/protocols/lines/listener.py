"""A line-protocol listener: each accepted connection takes a slot of the protocol's
`ConnectionLimits` (and so of the process cap) before anything is read from it, or is refused at
once with the protocol's reply.

The listener runs its own accept loop so that on an implicit-TLS listener the slot is taken before
the handshake (which must end within `handshake_timeout_seconds`): a client that connects and never
handshakes holds a descriptor like any other connection. A connection refused there is closed
without a reply, which would have to wait for the handshake it is refused to spare.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailservice.protocols.connection_policy import ConnectionLimits
from mailservice.protocols.lines.line_reader import LOGIN_RECEIVE_BUFFER, STREAM_LIMIT
from mailservice.protocols.lines.stop import ConnectionStops
from mailservice.services.metrics import ProtocolMetrics

log = logging.getLogger(__name__)

ServeConnection = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ACCEPT_BACKOFF_SECONDS = 0.1
"""Pause of the accept loop when accepting fails (out of descriptors), as asyncio's own server does."""
BACKLOG = 1024


@dataclass(frozen=True)
class Listener:
    protocol: str
    host: str
    port: int
    tls: ssl.SSLContext | None
    limits: ConnectionLimits
    refusal: bytes
    handshake_timeout_seconds: float
    metrics: ProtocolMetrics


class LineServer:
    """The listening sockets and their accept loops; `close()` stops accepting (open connections
    go on, as with `asyncio.Server`)."""

    def __init__(self, listener: Listener, serve_connection: ServeConnection, stops: ConnectionStops) -> None:
        self.listener = listener
        self.serve_connection = serve_connection
        self.stops = stops
        """Its connections, which a stop ends between commands (`end_connections`)."""
        self.sockets = _listening_sockets(listener.host, listener.port)
        self._accepting = [asyncio.create_task(self._accept(listening)) for listening in self.sockets]
        self._connections: set[asyncio.Task[None]] = set()

    def close(self) -> None:
        for task in self._accepting:
            task.cancel()
        for listening in self.sockets:
            listening.close()

    async def end_connections(self, grace_seconds: float) -> None:
        """After `close()`: end the connections, each once it is between commands, and return when they
        have ended, or after `grace_seconds`."""
        ending = self.stops.request()
        if ending:
            _, late = await asyncio.wait(ending, timeout=grace_seconds)
            if late:
                log.warning("%s.stop_cut connections=%d", self.listener.protocol, len(late))

    async def wait_closed(self) -> None:
        for task in self._accepting:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                accepted, address = await loop.sock_accept(listening)
            except OSError as error:
                log.warning("%s.accept_failed error=%s", self.listener.protocol, error)
                await asyncio.sleep(ACCEPT_BACKOFF_SECONDS)
                continue
            ip = str(address[0])
            if not self.listener.limits.try_acquire(ip):
                log.warning("%s.connection_refused ip=%s reason=limit", self.listener.protocol, ip)
                self._refuse(accepted)
                continue
            accepted.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LOGIN_RECEIVE_BUFFER)
            task = loop.create_task(self._connect(accepted, ip))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

    def _refuse(self, accepted: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if self.listener.tls is None:
                accepted.setblocking(False)
                accepted.send(self.listener.refusal)
        accepted.close()

    async def _connect(self, accepted: socket.socket, ip: str) -> None:
        """Hand the socket to a stream (after the TLS handshake on an implicit-TLS listener); the
        slot is given back when the connection ends or the handshake fails."""
        listener = self.listener
        handshake = listener.handshake_timeout_seconds if listener.tls else None
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: self._stream(ip), accepted, ssl=listener.tls, ssl_handshake_timeout=handshake
            )
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            log.debug("%s.handshake_failed ip=%s error=%s", listener.protocol, ip, type(error).__name__)
            accepted.close()
            listener.limits.release(ip)
        except asyncio.CancelledError:
            accepted.close()
            listener.limits.release(ip)
            raise

    def _stream(self, ip: str) -> asyncio.StreamReaderProtocol:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                with self.listener.metrics.connection():
                    await self.serve_connection(reader, writer)
            except asyncio.CancelledError:
                writer.close()  # the event loop is shutting down; nothing awaits this task
            finally:
                self.listener.limits.release(ip)

        return asyncio.StreamReaderProtocol(asyncio.StreamReader(limit=STREAM_LIMIT), serve)


async def start_listener(
    listener: Listener, serve_connection: ServeConnection, stops: ConnectionStops
) -> LineServer:
    return LineServer(listener, serve_connection, stops)


def _listening_sockets(host: str, port: int) -> list[socket.socket]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets = []
    for family, kind, proto, _, address in found:
        listening = socket.socket(family, kind, proto)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listening.bind((address[0], port, *address[2:]))
        listening.listen(BACKLOG)
        listening.setblocking(False)
        sockets.append(listening)
        port = listening.getsockname()[1]  # with port 0 the other addresses take the one chosen
    return sockets


def peer_address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
