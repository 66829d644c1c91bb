"""Settings that are fine for a local experiment and dangerous anywhere else are named loudly at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailservice.config import Settings
from mailservice.startup_warnings import insecure_settings

POLAR = {"polar_token": "polar_oat_test", "polar_product_id": "prod_test"}


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)


def test_unsigned_key_proofs_are_named_wherever_the_service_listens(tmp_path: Path) -> None:
    (warning,) = insecure_settings(
        settings(tmp_path, edproof_allow_unsigned=True, http_addr="127.0.0.1:8080")
    )

    assert warning.startswith("EDPROOF_ALLOW_UNSIGNED=true: anyone who knows a public key gets its mailbox")


@pytest.mark.parametrize(
    "http_addr", [":8080", "0.0.0.0:8080", "192.0.2.10:8080", "[::]:8080", "mail.example:80"]
)
def test_mock_payments_reachable_beyond_this_machine_are_named(tmp_path: Path, http_addr: str) -> None:
    (warning,) = insecure_settings(settings(tmp_path, http_addr=http_addr))

    assert warning.startswith("mock payments on a non-loopback address")
    assert http_addr in warning


@pytest.mark.parametrize("http_addr", ["127.0.0.1:8080", "[::1]:8080", "localhost:8080"])
def test_mock_payments_on_loopback_only_are_quiet(tmp_path: Path, http_addr: str) -> None:
    assert insecure_settings(settings(tmp_path, http_addr=http_addr)) == []


def test_a_real_payment_provider_on_any_address_is_quiet(tmp_path: Path) -> None:
    assert insecure_settings(settings(tmp_path, http_addr=":8080", **POLAR)) == []


def test_webhooks_to_private_addresses_are_named(tmp_path: Path) -> None:
    (warning,) = insecure_settings(settings(tmp_path, webhook_allow_private=True, http_addr="127.0.0.1:8080"))

    assert warning.startswith("WEBHOOK_ALLOW_PRIVATE=true: any mailbox can make this server POST")
