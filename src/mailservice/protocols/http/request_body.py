"""Read the whole request body, within a size and a time limit, before anything else runs.

A client that sends its headers and then trickles (or withholds) its body holds only this read: the
concurrency slot is taken after it, so slow clients cannot starve the others. Beyond the time limit the
client gets 408 and the connection is closed; beyond the size limit, 413.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailservice.protocols.http.errors import error_response
from mailservice.protocols.http.load import HttpLoad

MAX_JSON_BODY_BYTES = 1024 * 1024


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class RequestBodyMiddleware:
    def __init__(
        self, app: ASGIApp, load: HttpLoad, timeout_seconds: float, limit: int = MAX_JSON_BODY_BYTES
    ) -> None:
        self._app = app
        self._load = load
        self._timeout = timeout_seconds
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        try:
            body = await self._read_in_time(scope, receive)
        except BodyTooLarge:
            response = error_response(413, f"request body is larger than {self._limit} bytes", "too_large")
            await response(scope, receive, send)
            return
        except TimeoutError:
            message = f"request body not received within {self._timeout:g} seconds"
            response = error_response(408, message, "request_timeout", headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        except ClientGone:
            return
        await self._app(scope, _replay(body, receive), send)

    async def _read_in_time(self, scope: Scope, receive: Receive) -> bytes:
        declared = _content_length(scope)
        if declared is not None and declared > self._limit:
            raise BodyTooLarge
        self._load.reading_bodies += 1
        try:
            async with asyncio.timeout(self._timeout):
                return await self._read(receive)
        finally:
            self._load.reading_bodies -= 1

    async def _read(self, receive: Receive) -> bytes:
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self._limit:
                raise BodyTooLarge
        return bytes(body)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
