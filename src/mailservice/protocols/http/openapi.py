"""The OpenAPI document as the service really answers, not as FastAPI assumes by default.

FastAPI documents `422` with its own `HTTPValidationError` body for every route with parameters, but our
error handler answers invalid requests with `400` and the usual `{"error", "code"}` body; every route
that takes a request slot can be refused with `503` when the concurrency limit is reached; rate-limited
routes can answer `429`; a request body can be refused with `413` (too large) or `408` (too slow).
The routes declare what they do themselves; this adds what applies to many.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from mailservice.protocols.http.concurrency import takes_request_slot
from mailservice.protocols.http.rate_limit import rate_limit_of

_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """`routers` are those included without a prefix; their routes say which limits apply."""
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI keeps its own cache and rebuilds it when the routes change (MCP mounts one late);
        # the changes below are idempotent, so they are applied to whatever it returns.
        return _as_answered(generate(), routes)

    app.openapi = openapi  # type: ignore[method-assign]


def _as_answered(schema: dict[str, Any], routes: Sequence[APIRoute]) -> dict[str, Any]:
    for route in routes:
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _declare_shared_answers(operation, route)
    components = schema.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    return schema


def _declare_shared_answers(operation: dict[str, Any], route: APIRoute) -> None:
    responses: dict[str, Any] = operation["responses"]
    for answer in responses.values():
        _errors_are_json(answer)
    if responses.pop("422", None) is not None:
        _declare(responses, 400, "Invalid request")
    if "requestBody" in operation:
        _declare(responses, 408, "The request body was not sent in time")
        _declare(responses, 413, "The request body is larger than 1 MiB")
    if rate_limit_of(route) is not None:
        _declare(responses, 429, "Too many requests from this address; see Retry-After")
    if takes_request_slot(route):
        _declare(responses, 503, "Concurrency limit reached; see Retry-After")


def _errors_are_json(answer: dict[str, Any]) -> None:
    """A route of another media type (text/plain metrics) documents its error bodies as JSON, as they are."""
    for media_type, body in list(answer.get("content", {}).items()):
        if (
            body.get("schema") == _ERROR_BODY["application/json"]["schema"]
            and media_type != "application/json"
        ):
            answer["content"] = _ERROR_BODY


def _declare(responses: dict[str, Any], status: int, description: str) -> None:
    responses.setdefault(str(status), {"description": description, "content": _ERROR_BODY})
