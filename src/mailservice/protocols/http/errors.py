"""The one place where domain errors and request errors become HTTP responses."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailservice.domain.errors import (
    AuthenticationFailed,
    Busy,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidProof,
    InvalidWebhook,
    MailboxNotUsable,
    NotConfigured,
    NotFound,
    NotPaidYet,
    PaymentProviderUnavailable,
    RateLimited,
)

log = logging.getLogger(__name__)

_STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 400),
    (InvalidProof, 401),
    (InvalidWebhook, 401),
    (AuthenticationFailed, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (MailboxNotUsable, 409),
    (Conflict, 409),
    (NotPaidYet, 409),
    (RateLimited, 429),
    (PaymentProviderUnavailable, 502),
    (NotConfigured, 503),
    (Busy, 503),
)


def error_body(message: str, code: str, /, **details: Any) -> dict[str, Any]:
    """The one error envelope: `{"error", "code"}` and any details that are set."""
    return {"error": message, "code": code, **{k: v for k, v in details.items() if v is not None}}


def error_response(
    status: int, message: str, code: str, /, headers: Mapping[str, str] | None = None, **details: Any
) -> JSONResponse:
    # Positional-only: a detail may be called `status` (a mailbox's status) or `code`.
    return JSONResponse(error_body(message, code, **details), status_code=status, headers=headers)


def status_of(error: DomainError) -> int:
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    wait = error.details.get("retry_after_seconds")
    headers = {"Retry-After": str(wait)} if wait is not None else None
    return error_response(status_of(error), error.message, error.code, headers=headers, **error.details)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    message = describe_validation_errors(error.errors())
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if message == "request body must be a JSON object" and not media_type.endswith("json"):
        # FastAPI reads a body as JSON only when it says so; a JSON object sent as a form lands here.
        message = "request body must be a JSON object sent with Content-Type: application/json"
    return error_response(400, message, "invalid_request")


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    message = error.detail if isinstance(error.detail, str) else "request failed"
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(error.status_code, "error")
    return error_response(error.status_code, message.lower(), code, headers=error.headers)


def describe_validation_errors(errors: Any) -> str:
    """A short sentence naming the first problem, e.g. `unknown field: foo`."""
    for error in errors:
        kind = error.get("type", "")
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        field = ".".join(location)
        if kind == "json_invalid":
            return _invalid_json(error)
        if kind == "extra_forbidden":
            return f"unknown field: {field}"
        if kind == "missing":
            return f"{field} is required" if field else "request body is required"
        if kind in ("model_attributes_type", "dict_type") and not field:
            return "request body must be a JSON object"
        message = str(error.get("msg", "is invalid"))
        return f"{field}: {message}" if field else message
    return "invalid request"


def _invalid_json(error: Any) -> str:
    message = "request body must be a single valid JSON value"
    # What a pasted armoured signature gives: its newlines land raw inside a JSON string.
    if "control character" in str(error.get("ctx", {}).get("error", "")):
        message += (
            ": a string holds a raw newline or other control character; escape it as \\n "
            "(build the JSON with jq or python3 -c 'import json ...')"
        )
    return message
