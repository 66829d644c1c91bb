"""OpenAPI documentation of the error body; the request and response models are in `mailservice.wire`."""

from __future__ import annotations

from typing import Any

from mailservice.wire.common import ErrorResponse


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the error body for each status."""
    return {status: {"model": ErrorResponse} for status in statuses}


def page_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Like error_responses, for routes that answer a browser (`Accept: text/html`) with a page instead."""
    page = {"text/html": {"schema": {"type": "string"}}}
    return {
        200: {"content": page},
        **{status: {"model": ErrorResponse, "content": page} for status in statuses},
    }
