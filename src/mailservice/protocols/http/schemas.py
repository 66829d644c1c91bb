"""OpenAPI documentation of the error body; the request and response models are in `mailservice.wire`."""

from __future__ import annotations

from typing import Any

from mailservice.wire.common import ErrorResponse


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the error body for each status."""
    return {status: {"model": ErrorResponse} for status in statuses}
