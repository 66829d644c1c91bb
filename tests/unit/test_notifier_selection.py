"""Which notifier starts: NOTIFIER_PROVIDER, else Unsend -> Resend -> SendGrid -> Mailgun -> log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailservice.adapters.notify.selection import select_notifier
from mailservice.config import Settings
from mailservice.domain.errors import ConfigurationError

UNSEND = {"unsend_key": "k", "unsend_from_email": "n@example.com"}
RESEND = {"resend_api_key": "k", "resend_from_email": "n@example.com"}
SENDGRID = {"sendgrid_api_key": "k", "sendgrid_from_email": "n@example.com"}
MAILGUN = {"mailgun_api_key": "k", "mailgun_domain": "mg.example.com", "mailgun_from_email": "n@example.com"}


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ({}, "log"),
        ({**UNSEND, **RESEND, **SENDGRID, **MAILGUN}, "unsend"),
        ({**RESEND, **SENDGRID, **MAILGUN}, "resend"),
        ({**SENDGRID, **MAILGUN}, "sendgrid"),
        (MAILGUN, "mailgun"),
    ],
)
def test_first_configured_provider_wins(tmp_path: Path, configured: dict[str, str], expected: str) -> None:
    assert select_notifier(settings(tmp_path, **configured)).name == expected


def test_notifier_provider_names_one_explicitly(tmp_path: Path) -> None:
    chosen = select_notifier(settings(tmp_path, notifier_provider="SendGrid", **UNSEND, **SENDGRID))

    assert chosen.name == "sendgrid"


def test_notifier_provider_log_overrides_configured_keys(tmp_path: Path) -> None:
    assert select_notifier(settings(tmp_path, notifier_provider="log", **UNSEND)).name == "log"


def test_unknown_notifier_provider_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="NOTIFIER_PROVIDER must be one of"):
        select_notifier(settings(tmp_path, notifier_provider="carrier-pigeon"))


def test_named_provider_without_its_key_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="RESEND_API_KEY, RESEND_FROM_EMAIL"):
        select_notifier(settings(tmp_path, notifier_provider="resend"))


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"unsend_key": "k"}, "UNSEND_FROM_EMAIL"),
        ({"resend_from_email": "n@example.com"}, "RESEND_API_KEY"),
        ({"sendgrid_api_key": "k"}, "SENDGRID_FROM_EMAIL"),
        ({"mailgun_api_key": "k", "mailgun_from_email": "n@example.com"}, "MAILGUN_DOMAIN"),
    ],
)
def test_half_configured_provider_refuses_to_start(
    tmp_path: Path, values: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        select_notifier(settings(tmp_path, **values))


def test_blank_values_count_as_unset(tmp_path: Path) -> None:
    assert select_notifier(settings(tmp_path, unsend_key="", unsend_from_email=" ")).name == "log"
