"""What the client raises: one exception per kind of answer, carrying the service's error body."""

from __future__ import annotations

from typing import Any

import httpx


class MailServiceError(Exception):
    """The service refused the request; `code` is its machine-readable error code."""

    def __init__(self, message: str, status_code: int, code: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.body = body


class InvalidRequest(MailServiceError):
    """400: malformed input (a bad key, a bad billing e-mail, an unknown field...)."""


class AuthenticationFailed(MailServiceError):
    """401: the key proof or the access token was refused."""


class NotFound(MailServiceError):
    """404: no mailbox for this key, or no such message in this mailbox."""


class MailboxNotUsable(MailServiceError):
    """409: the mailbox exists but cannot be used now."""


class PaymentRequired(MailboxNotUsable):
    """The mailbox waits for its payment; open `payment_url` (it was also sent to the billing e-mail)."""

    @property
    def payment_url(self) -> str | None:
        url = self.body.get("payment_url")
        return str(url) if url else None


class Expired(MailboxNotUsable):
    """The month has run out; claiming again sends a renewal link."""

    @property
    def expired_at(self) -> str | None:
        value = self.body.get("expired_at")
        return str(value) if value else None


class RateLimited(MailServiceError):
    """429: too many requests."""


class ServiceUnavailable(MailServiceError):
    """5xx, or an answer that is not the service's JSON."""


_BY_CODE: dict[str, type[MailServiceError]] = {"waiting_payment": PaymentRequired, "expired": Expired}
_BY_STATUS: dict[int, type[MailServiceError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    404: NotFound,
    409: MailboxNotUsable,
    429: RateLimited,
}


def raise_for_error(response: httpx.Response) -> None:
    """Raise the exception that matches an error answer; do nothing for a 2xx."""
    if response.is_success:
        return
    body = _json_object(response)
    code = str(body.get("code") or "error")
    message = str(body.get("error") or f"HTTP {response.status_code}")
    error_type = _BY_CODE.get(code) or _BY_STATUS.get(response.status_code, ServiceUnavailable)
    raise error_type(message, response.status_code, code, body)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
