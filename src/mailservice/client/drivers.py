"""Running an operation's steps over httpx, blocking or async; network failures become client errors."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import httpx

from mailservice.client.errors import ServiceUnavailable
from mailservice.client.operations import Call, Operation

T = TypeVar("T")


def run_sync(http: httpx.Client, operation: Operation[T]) -> T:
    try:
        call = next(operation)
        while True:
            call = operation.send(_send_sync(http, call))
    except StopIteration as done:
        return cast(T, done.value)


async def run_async(http: httpx.AsyncClient, operation: Operation[T]) -> T:
    try:
        call = next(operation)
        while True:
            call = operation.send(await _send_async(http, call))
    except StopIteration as done:
        return cast(T, done.value)


def _send_sync(http: httpx.Client, call: Call) -> httpx.Response:
    try:
        return http.request(call.method, call.path, **_options(call))
    except httpx.TransportError as error:
        raise _unreachable(http.base_url, error) from error


async def _send_async(http: httpx.AsyncClient, call: Call) -> httpx.Response:
    try:
        return await http.request(call.method, call.path, **_options(call))
    except httpx.TransportError as error:
        raise _unreachable(http.base_url, error) from error


def _options(call: Call) -> dict[str, Any]:
    options: dict[str, Any] = {"json": call.json, "params": call.params}
    if call.token is not None:
        options["headers"] = {"Authorization": f"Bearer {call.token}"}
    if call.timeout is not None:
        options["timeout"] = call.timeout
    return options


def _unreachable(base_url: httpx.URL, error: httpx.TransportError) -> ServiceUnavailable:
    message = f"cannot reach the mail service at {base_url}: {error.__class__.__name__} {error}".strip()
    return ServiceUnavailable(message, 0, "unreachable", {})
