"""Which payment provider runs: Polar when POLAR_TOKEN and POLAR_PRODUCT_ID are set, else Stripe when
STRIPE_SECRET_KEY is, else mock payment links. A half-configured provider refuses to start.

Only the chosen provider's SDK is imported: each costs tens of MiB in every serving process.
"""

from __future__ import annotations

from mailservice.adapters.payments.mock import MockPaymentGateway
from mailservice.config import Settings
from mailservice.domain.errors import ConfigurationError
from mailservice.ports import PaymentGateway, WebhookVerifier


def chosen_provider(settings: Settings) -> str:
    if settings.polar_token is not None and settings.polar_product_id is not None:
        return "polar"
    if settings.stripe_secret_key is not None:
        return "stripe"
    return "mock"


def check_payment_settings(settings: Settings) -> None:
    """A provider is wholly configured or not at all; production also needs its webhook secret, since
    renewals and late payments only arrive by webhook."""
    polar = {"POLAR_TOKEN": settings.polar_token, "POLAR_PRODUCT_ID": settings.polar_product_id}
    if settings.is_production:
        polar["POLAR_WEBHOOK_SECRET"] = settings.polar_webhook_secret
    _all_or_nothing("Polar", polar)
    if settings.polar_webhook_secret is not None and settings.polar_token is None:
        raise ConfigurationError("POLAR_WEBHOOK_SECRET is set without POLAR_TOKEN and POLAR_PRODUCT_ID")
    if chosen_provider(settings) == "polar":
        return
    stripe = {"STRIPE_SECRET_KEY": settings.stripe_secret_key}
    if settings.is_production:
        stripe["STRIPE_WEBHOOK_SECRET"] = settings.stripe_webhook_secret
    _all_or_nothing("Stripe", stripe)
    if settings.stripe_webhook_secret is not None and settings.stripe_secret_key is None:
        raise ConfigurationError("STRIPE_WEBHOOK_SECRET is set without STRIPE_SECRET_KEY")
    if settings.mailbox_price_cents <= 0 and chosen_provider(settings) == "stripe":
        raise ConfigurationError("MAILBOX_PRICE_CENTS must be above 0 for Stripe checkouts")


def select_payment_gateway(settings: Settings) -> PaymentGateway:
    check_payment_settings(settings)
    provider = chosen_provider(settings)
    timeout = settings.payment_provider_timeout_seconds
    if provider == "polar":
        from mailservice.adapters.payments.polar import PolarPaymentGateway

        assert settings.polar_token and settings.polar_product_id
        return PolarPaymentGateway(
            settings.polar_token,
            settings.polar_product_id,
            settings.polar_server_url,
            settings.polar_success_redirect,
            settings.polar_return_redirect,
            timeout,
        )
    if provider == "stripe":
        from mailservice.adapters.payments.stripe import StripePaymentGateway

        assert settings.stripe_secret_key
        return StripePaymentGateway(
            settings.stripe_secret_key,
            settings.stripe_api_base,
            settings.mailbox_price_cents,
            settings.stripe_currency,
            settings.stripe_success_redirect,
            settings.stripe_cancel_redirect,
            timeout,
        )
    return MockPaymentGateway(settings.public_base_url)


def select_webhook_verifiers(settings: Settings) -> dict[str, WebhookVerifier]:
    """The verifier of the running provider, when its webhook secret is set."""
    provider = chosen_provider(settings)
    if provider == "polar" and settings.polar_webhook_secret is not None:
        from mailservice.adapters.payments.polar_webhooks import PolarWebhookVerifier

        return {"polar": PolarWebhookVerifier(settings.polar_webhook_secret)}
    if provider == "stripe" and settings.stripe_webhook_secret is not None:
        from mailservice.adapters.payments.stripe_webhooks import StripeWebhookVerifier

        return {"stripe": StripeWebhookVerifier(settings.stripe_webhook_secret)}
    return {}


def _all_or_nothing(provider: str, required: dict[str, str | None]) -> None:
    present = [name for name, value in required.items() if value is not None]
    if present and len(present) < len(required):
        missing = ", ".join(name for name, value in required.items() if value is None)
        raise ConfigurationError(f"{provider} payments are half-configured: set {missing}")
