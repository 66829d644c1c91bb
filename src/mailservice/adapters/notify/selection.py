"""Which notifier runs: NOTIFIER_PROVIDER names one, else the first configured of
Unsend -> Resend -> SendGrid -> Mailgun, else the log. A half-configured provider refuses to start."""

from __future__ import annotations

from mailservice.adapters.notify.log import LogNotifier
from mailservice.adapters.notify.mailgun import MailgunNotifier
from mailservice.adapters.notify.resend import ResendNotifier
from mailservice.adapters.notify.sendgrid import SendGridNotifier
from mailservice.adapters.notify.unsend import UnsendNotifier
from mailservice.config import Settings
from mailservice.domain.errors import ConfigurationError
from mailservice.ports import Notifier

PROVIDERS = ("unsend", "resend", "sendgrid", "mailgun", "log")


def select_notifier(settings: Settings) -> Notifier:
    check_notifier_settings(settings)
    provider = chosen_provider(settings)
    timeout = settings.notifier_timeout_seconds
    if provider == "unsend":
        assert settings.unsend_key and settings.unsend_from_email
        return UnsendNotifier(
            settings.unsend_key,
            settings.unsend_base_url,
            settings.unsend_from_email,
            settings.unsend_from_name,
            timeout,
        )
    if provider == "resend":
        assert settings.resend_api_key and settings.resend_from_email
        return ResendNotifier(
            settings.resend_api_key,
            settings.resend_base_url,
            settings.resend_from_email,
            settings.resend_from_name,
            timeout,
        )
    if provider == "sendgrid":
        assert settings.sendgrid_api_key and settings.sendgrid_from_email
        return SendGridNotifier(
            settings.sendgrid_api_key,
            settings.sendgrid_base_url,
            settings.sendgrid_from_email,
            settings.sendgrid_from_name,
            timeout,
        )
    if provider == "mailgun":
        assert settings.mailgun_api_key and settings.mailgun_domain and settings.mailgun_from_email
        return MailgunNotifier(
            settings.mailgun_api_key,
            settings.mailgun_domain,
            settings.mailgun_base_url,
            settings.mailgun_from_email,
            settings.mailgun_from_name,
            timeout,
        )
    return LogNotifier()


def chosen_provider(settings: Settings) -> str:
    if settings.notifier_provider is not None:
        return settings.notifier_provider.lower()
    for provider, key in (
        ("unsend", settings.unsend_key),
        ("resend", settings.resend_api_key),
        ("sendgrid", settings.sendgrid_api_key),
        ("mailgun", settings.mailgun_api_key),
    ):
        if key is not None:
            return provider
    return "log"


def check_notifier_settings(settings: Settings) -> None:
    """Every provider that has a key set needs its sender; a named provider must be configured."""
    named = settings.notifier_provider.lower() if settings.notifier_provider else None
    if named is not None and named not in PROVIDERS:
        raise ConfigurationError(f"NOTIFIER_PROVIDER must be one of: {', '.join(PROVIDERS)}")
    for provider, required in _required(settings).items():
        present = [name for name, value in required if value is not None]
        if (present or named == provider) and len(present) < len(required):
            missing = ", ".join(name for name, value in required if value is None)
            raise ConfigurationError(f"the {provider} notifier is half-configured: set {missing}")


def _required(settings: Settings) -> dict[str, list[tuple[str, str | None]]]:
    return {
        "unsend": [("UNSEND_KEY", settings.unsend_key), ("UNSEND_FROM_EMAIL", settings.unsend_from_email)],
        "resend": [
            ("RESEND_API_KEY", settings.resend_api_key),
            ("RESEND_FROM_EMAIL", settings.resend_from_email),
        ],
        "sendgrid": [
            ("SENDGRID_API_KEY", settings.sendgrid_api_key),
            ("SENDGRID_FROM_EMAIL", settings.sendgrid_from_email),
        ],
        "mailgun": [
            ("MAILGUN_API_KEY", settings.mailgun_api_key),
            ("MAILGUN_DOMAIN", settings.mailgun_domain),
            ("MAILGUN_FROM_EMAIL", settings.mailgun_from_email),
        ],
    }
