"""uvicorn's h11 protocol with a deadline for a request's headers.

uvicorn times out neither the first request's headers nor headers that trickle in after a response: its
keep-alive timer is reset by every byte. Here the clock starts when a connection opens or a response ends,
and the connection is closed if the next request's headers are not complete when it runs out. The body
has its own deadline (request_body.py). This subclasses uvicorn internals; pyproject.toml pins uvicorn.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState


def with_header_deadline(seconds: float) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (`http=`): it builds one instance per connection itself."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_seconds": seconds})


class HeaderDeadlineProtocol(H11Protocol):
    header_seconds: ClassVar[float]

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(config, server_state, app_state, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_clock()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._stop_header_clock()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def _start_header_clock(self) -> None:
        self._stop_header_clock()
        self._header_deadline = self.loop.call_later(self.header_seconds, self._headers_too_late)

    def _stop_header_clock(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_late(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
