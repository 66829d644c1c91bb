"""Billing e-mail addresses: normalised and checked for a plausible shape."""

from __future__ import annotations

import re

from mailservice.domain.errors import InvalidInput

MAX_EMAIL_LENGTH = 254
_PLAUSIBLE = re.compile(
    r"^[^@\s\"<>()\[\],;:\\]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
)


def normalize_billing_email(value: str, field: str = "billing_email") -> str:
    email = value.strip().lower()
    if not email:
        raise InvalidInput(f"{field} is required")
    if len(email) > MAX_EMAIL_LENGTH or not _PLAUSIBLE.match(email):
        raise InvalidInput(f"{field} must be a valid e-mail address")
    return email
