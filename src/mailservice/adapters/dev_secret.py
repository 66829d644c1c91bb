"""The secret key: configured, or in development generated once and kept under the data directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mailservice.config import MIN_SECRET_BYTES, Settings
from mailservice.domain.errors import ConfigurationError

SECRET_FILE = "secret_key"


def load_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        secret = settings.secret_key.encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigurationError(f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes")
        return secret
    if settings.is_production:
        raise ConfigurationError(
            "SECRET_KEY (or EDPROOF_HMAC_SECRET) is required when MAILSERVICE_ENV=production"
        )
    return _development_secret(settings.data_dir / SECRET_FILE)


def _development_secret(path: Path) -> bytes:
    if path.exists():
        secret = path.read_bytes().strip()
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigurationError(f"{path} holds a secret shorter than {MIN_SECRET_BYTES} bytes")
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode("ascii")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret + b"\n")
    return secret
