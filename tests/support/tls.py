"""A self-signed certificate for TLS tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mailservice.adapters.dev_tls import self_signed as _self_signed


def self_signed(directory: Path, hostname: str = "localhost") -> tuple[Path, Path]:
    return _self_signed(directory, hostname, timedelta(days=1))
