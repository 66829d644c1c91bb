"""What every HTTP e-mail API notifier shares: the sender line, one request, and its failures."""

from __future__ import annotations

from email.utils import formataddr
from typing import Any

import httpx

from mailservice.adapters.trusted_tls import verifying_context
from mailservice.domain.errors import NotificationFailed

ERROR_BODY_CHARS = 300


def sender(name: str, address: str) -> str:
    """`Name <address>`, quoted as RFC 5322 needs it."""
    return formataddr((name, address))


async def post(
    provider: str,
    url: str,
    timeout_seconds: float,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    data: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    """POST once; a transport error or any non-2xx answer raises `NotificationFailed`."""
    try:
        basic = httpx.BasicAuth(*auth) if auth else None
        async with httpx.AsyncClient(
            timeout=timeout_seconds, auth=basic, verify=verifying_context()
        ) as client:
            response = await client.post(url, headers=headers, json=json, data=data)
    except httpx.HTTPError as error:
        raise NotificationFailed(f"{provider}: {type(error).__name__}: {error}") from error
    if not response.is_success:
        raise NotificationFailed(
            f"{provider}: HTTP {response.status_code}: {response.text[:ERROR_BODY_CHARS]}",
            status=response.status_code,
        )
    return response
