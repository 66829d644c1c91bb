"""Which payment provider starts: Polar (token and product), else Stripe (secret key), else mock; a
half-configured provider refuses to start with a message naming what is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailservice.adapters.payments.selection import (
    check_payment_settings,
    select_payment_gateway,
    select_webhook_verifiers,
)
from mailservice.bootstrap import check_settings
from mailservice.config import Settings
from mailservice.domain.errors import ConfigurationError

POLAR = {"polar_token": "polar_oat_x", "polar_product_id": "prod"}
STRIPE = {"stripe_secret_key": "sk_test_x"}


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, secret_key="s" * 40, **values)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [({}, "mock"), ({**POLAR, **STRIPE}, "polar"), (POLAR, "polar"), (STRIPE, "stripe")],
)
def test_polar_then_stripe_then_mock(tmp_path: Path, configured: dict[str, str], expected: str) -> None:
    assert select_payment_gateway(settings(tmp_path, **configured)).provider == expected


@pytest.mark.parametrize(
    ("configured", "missing"),
    [
        ({"polar_token": "polar_oat_x"}, "POLAR_PRODUCT_ID"),
        ({"polar_product_id": "prod"}, "POLAR_TOKEN"),
        ({"polar_product_id": "prod", **STRIPE}, "POLAR_TOKEN"),
        ({"polar_webhook_secret": "w"}, "POLAR_TOKEN"),
        ({"stripe_webhook_secret": "whsec_x"}, "STRIPE_SECRET_KEY"),
    ],
)
def test_half_configured_provider_refuses_to_start(
    tmp_path: Path, configured: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        check_settings(settings(tmp_path, **configured))


@pytest.mark.parametrize(
    ("configured", "missing"),
    [(POLAR, "POLAR_WEBHOOK_SECRET"), (STRIPE, "STRIPE_WEBHOOK_SECRET")],
)
def test_production_needs_the_webhook_secret(
    tmp_path: Path, configured: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        check_payment_settings(settings(tmp_path, mailservice_env="production", **configured))


def test_blank_values_count_as_unset(tmp_path: Path) -> None:
    chosen = select_payment_gateway(settings(tmp_path, polar_token=" ", polar_product_id="", **STRIPE))

    assert chosen.provider == "stripe"


def test_webhook_verifier_of_the_running_provider_only(tmp_path: Path) -> None:
    both = settings(tmp_path, **POLAR, polar_webhook_secret="w", **STRIPE, stripe_webhook_secret="whsec_x")

    assert list(select_webhook_verifiers(both)) == ["polar"]
    assert select_webhook_verifiers(settings(tmp_path, **POLAR)) == {}


def test_default_redirects_point_at_our_own_pages(tmp_path: Path) -> None:
    configured = settings(tmp_path, public_base_url="https://mail.example.com/")

    assert configured.polar_success_redirect == (
        "https://mail.example.com/v1/payments/polar/success?checkout_id={CHECKOUT_ID}"
    )
    assert configured.polar_return_redirect == "https://mail.example.com"
    assert configured.stripe_success_redirect == (
        "https://mail.example.com/payment/success?session_id={CHECKOUT_SESSION_ID}"
    )
    assert configured.stripe_cancel_redirect == "https://mail.example.com/payment/cancel"


def test_settings_read_the_seed_variable_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    names = {
        "POLAR_TOKEN": "polar_oat_x",
        "POLAR_PRODUCT_ID": "prod",
        "POLAR_SERVER_URL": "https://sandbox-api.polar.sh",
        "POLAR_SUCCESS_URL": "https://example.com/ok?c={CHECKOUT_ID}",
        "POLAR_RETURN_URL": "https://example.com/",
        "POLAR_WEBHOOK_SECRET": "polar_whs_x",
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "STRIPE_CURRENCY": "eur",
        "STRIPE_SUCCESS_URL": "https://example.com/paid",
        "STRIPE_CANCEL_URL": "https://example.com/canceled",
        "MAILBOX_PRICE_CENTS": "450",
    }
    for name, value in names.items():
        monkeypatch.setenv(name, value)

    configured = Settings(_env_file=None, data_dir=tmp_path)

    assert (configured.polar_token, configured.polar_product_id) == ("polar_oat_x", "prod")
    assert configured.polar_server_url == "https://sandbox-api.polar.sh"
    assert configured.polar_success_redirect == "https://example.com/ok?c={CHECKOUT_ID}"
    assert configured.polar_return_redirect == "https://example.com/"
    assert configured.polar_webhook_secret == "polar_whs_x"
    assert (configured.stripe_secret_key, configured.stripe_webhook_secret) == ("sk_test_x", "whsec_x")
    assert (configured.stripe_currency, configured.mailbox_price_cents) == ("eur", 450)
    assert configured.stripe_success_redirect == "https://example.com/paid"
    assert configured.stripe_cancel_redirect == "https://example.com/canceled"
