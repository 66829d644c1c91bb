"""All configuration, read once from the environment and `.env` into one Settings object."""

from __future__ import annotations

import enum
import os
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mailservice.domain.quota import DEFAULT_QUOTA_BYTES

MIN_SECRET_BYTES = 32


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    mailservice_env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("data")
    log_level: str = "INFO"

    http_addr: str = ":8080"
    database_dsn: str = "data/mailservice.db"
    max_concurrent_requests: int = Field(default=100, ge=0)
    http_body_timeout_seconds: float = Field(default=10.0, gt=0)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    forwarded_allow_ips: str | None = None
    build_number: str = "dev"
    cache_buster: str | None = None
    public_base_url: str = "http://localhost:8080"
    mail_domain: str = "mail.local"
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    pop3_port: int | None = Field(default=None, ge=1, le=65535)
    mailbox_price_cents: int = Field(default=299, ge=0)

    secret_key: str | None = Field(
        default=None, validation_alias=AliasChoices("SECRET_KEY", "EDPROOF_HMAC_SECRET")
    )
    edproof_allow_unsigned: bool = False

    smtp_addr: str | None = None
    lmtp_addr: str | None = None
    smtp_hostname: str | None = None
    mail_aliases: str = ""
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    mailbox_quota_bytes: int = Field(default=DEFAULT_QUOTA_BYTES, ge=1)
    retention_days: int = Field(default=30, ge=0)
    event_retention_days: float = Field(default=7.0, gt=0)
    retention_max_age_days: int = Field(default=0, ge=0, le=36_500)
    retention_delete_oldest_read: bool = True
    mail_memory_budget_bytes: int = Field(default=128 * 1024 * 1024, ge=1024 * 1024)
    mail_descriptor_reserve: int = Field(default=256, ge=16)
    smtp_max_connections: int = Field(default=1000, ge=1)
    smtp_max_connections_per_ip: int = Field(default=20, ge=1)
    smtp_max_recipients: int = Field(default=100, ge=1)
    smtp_max_refused_recipients: int = Field(default=20, ge=1)
    smtp_transaction_start_timeout_seconds: float = Field(default=60.0, gt=0)
    smtp_command_timeout_seconds: float = Field(default=300.0, gt=0)
    smtp_data_block_timeout_seconds: float = Field(default=180.0, gt=0)
    smtp_data_termination_timeout_seconds: float = Field(default=600.0, gt=0)
    smtp_stress_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_spool_threshold_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    smtp_spool_max_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1024 * 1024)
    smtp_large_message_concurrency: int = Field(default=2, ge=1)
    postmaster_address: str | None = None
    postmaster_forwards_per_minute: int = Field(default=10, ge=0)
    mail_login_timeout_seconds: float = Field(default=60.0, gt=0)
    imap_max_connections: int = Field(default=1000, ge=1)
    imap_max_connections_per_ip: int = Field(default=20, ge=1)
    imap_connection_buffer_bytes: int = Field(default=2 * 1024 * 1024, ge=64 * 1024)
    imap_login_command_bytes: int = Field(default=8 * 1024, ge=1024)
    imap_spool_threshold_bytes: int = Field(default=1024 * 1024, ge=0)
    pop3_max_connections: int = Field(default=1000, ge=1)
    pop3_max_connections_per_ip: int = Field(default=20, ge=1)
    imap_addr: str | None = None
    imaps_addr: str | None = None
    allow_plaintext_auth: bool | None = None
    pop3_addr: str | None = None
    pop3s_addr: str | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    polar_token: str | None = None
    polar_product_id: str | None = None
    polar_server_url: str = "https://api.polar.sh"
    polar_success_url: str | None = None
    polar_return_url: str | None = None
    polar_webhook_secret: str | None = None
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_currency: str = "usd"
    stripe_success_url: str | None = None
    stripe_cancel_url: str | None = None
    payment_provider_timeout_seconds: float = Field(default=10.0, gt=0)
    renewal_reminder_days: int = Field(default=7, ge=1)
    payment_link_resend_hours: float = Field(default=24.0, gt=0)

    notifier_provider: str | None = None
    notifier_timeout_seconds: float = Field(default=10.0, gt=0)
    unsend_key: str | None = None
    unsend_base_url: str = "https://unsend.admin.lt/api"
    unsend_from_email: str | None = None
    unsend_from_name: str = "MailService"
    resend_api_key: str | None = None
    resend_base_url: str = "https://api.resend.com"
    resend_from_email: str | None = None
    resend_from_name: str = "MailService"
    sendgrid_api_key: str | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com"
    sendgrid_from_email: str | None = None
    sendgrid_from_name: str = "MailService"
    mailgun_api_key: str | None = None
    mailgun_domain: str | None = None
    mailgun_base_url: str = "https://api.mailgun.net"
    mailgun_from_email: str | None = None
    mailgun_from_name: str = "MailService"

    admin_api_key: str | None = None
    support_email: str | None = None
    rate_limit_per_minute: int = Field(default=30, ge=0)
    login_failures_per_ip: int = Field(default=20, ge=1)
    login_failures_per_ip_and_login: int = Field(default=5, ge=1)
    login_failure_window_seconds: float = Field(default=300.0, gt=0)

    parser_processes: int | None = Field(default=None, ge=0, le=64)

    sender_auth: bool = True
    sender_auth_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    dns_nameservers: str = ""
    dns_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    dns_cache_size: int = Field(default=5000, ge=0)

    webhooks_per_mailbox: int = Field(default=5, ge=0, le=100)
    webhook_allow_private: bool = False
    webhook_disable_after_days: float = Field(default=3.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1, le=64)
    webhook_concurrency: int = Field(default=128, ge=1, le=4096)
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_poll_seconds: float = Field(default=2.0, gt=0)
    webhook_sender_process: bool = True

    sweep_interval_seconds: float = Field(default=300.0, gt=0)
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    session_recheck_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    @field_validator(
        "polar_token",
        "polar_product_id",
        "polar_success_url",
        "polar_return_url",
        "polar_webhook_secret",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "stripe_success_url",
        "stripe_cancel_url",
        "notifier_provider",
        "unsend_key",
        "unsend_from_email",
        "resend_api_key",
        "resend_from_email",
        "sendgrid_api_key",
        "sendgrid_from_email",
        "mailgun_api_key",
        "mailgun_domain",
        "mailgun_from_email",
        "postmaster_address",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        """`NAME=` in the environment or .env means not set."""
        if value is None:
            return None
        return value.strip() or None

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _public_base_url_follows_http_port(self) -> Settings:
        """Unset, PUBLIC_BASE_URL is http://localhost on the HTTP_ADDR port, so links work on any port."""
        if "public_base_url" not in self.model_fields_set:
            try:
                port = parse_listen_address(self.http_addr, "HTTP_ADDR")[1]
            except ValueError:
                return self  # reported with its own message when the HTTP listener starts
            self.public_base_url = f"http://localhost:{port}"
        return self

    @field_validator("mail_domain")
    @classmethod
    def _lowercase_domain(cls, value: str) -> str:
        return value.strip().lower()

    @model_validator(mode="after")
    def _webhook_lease_outlasts_a_send(self) -> Settings:
        # A lease that ended while its send still ran would let a second claimer send it at the same time.
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("WEBHOOK_LEASE_SECONDS must be longer than WEBHOOK_TIMEOUT_SECONDS")
        return self

    @property
    def is_production(self) -> bool:
        return self.mailservice_env is Environment.PRODUCTION

    @property
    def advertised_imap_host(self) -> str:
        """IMAP_HOST, or MAIL_DOMAIN in production; in development `localhost`, where the listeners are,
        because the development MAIL_DOMAIN (mail.local) resolves nowhere."""
        if self.imap_host is not None:
            return self.imap_host
        return self.mail_domain if self.is_production else "localhost"

    @property
    def advertised_imap_port(self) -> int:
        """IMAP_PORT, or the port the IMAP listener binds (143 in production)."""
        if self.imap_port is not None:
            return self.imap_port
        return parse_listen_address(self.imap_listen_addr, "IMAP_ADDR")[1]

    @property
    def advertised_pop3_port(self) -> int:
        """POP3_PORT, or the port the POP3 listener binds (110 in production)."""
        if self.pop3_port is not None:
            return self.pop3_port
        return parse_listen_address(self.pop3_listen_addr, "POP3_ADDR")[1]

    @property
    def smtp_listen_addr(self) -> str:
        """SMTP_ADDR, or the default of the environment: :25 in production, :2525 in development."""
        if self.smtp_addr is not None:
            return self.smtp_addr
        return ":25" if self.is_production else ":2525"

    @property
    def imap_listen_addr(self) -> str:
        """IMAP_ADDR, or the default of the environment: :143 in production, :1143 in development."""
        if self.imap_addr is not None:
            return self.imap_addr
        return ":143" if self.is_production else ":1143"

    @property
    def imaps_listen_addr(self) -> str:
        """IMAPS_ADDR (used only with a TLS certificate): :993 in production, :1993 in development."""
        if self.imaps_addr is not None:
            return self.imaps_addr
        return ":993" if self.is_production else ":1993"

    @property
    def pop3_listen_addr(self) -> str:
        """POP3_ADDR, or the default of the environment: :110 in production, :1110 in development."""
        if self.pop3_addr is not None:
            return self.pop3_addr
        return ":110" if self.is_production else ":1110"

    @property
    def pop3s_listen_addr(self) -> str:
        """POP3S_ADDR (used only with a TLS certificate): :995 in production, :1995 in development."""
        if self.pop3s_addr is not None:
            return self.pop3s_addr
        return ":995" if self.is_production else ":1995"

    @property
    def plaintext_auth_allowed(self) -> bool:
        """ALLOW_PLAINTEXT_AUTH: passwords over unencrypted IMAP, allowed by default only in development."""
        if self.allow_plaintext_auth is not None:
            return self.allow_plaintext_auth
        return not self.is_production

    @property
    def local_domains(self) -> frozenset[str]:
        aliases = (alias.strip().lower().rstrip(".") for alias in self.mail_aliases.split(","))
        return frozenset({self.mail_domain, *(alias for alias in aliases if alias)})

    @property
    def parser_process_count(self) -> int:
        """PARSER_PROCESSES, or one per core beyond the one that serves (at most 4); 0 parses in place."""
        if self.parser_processes is not None:
            return self.parser_processes
        return min(4, (os.cpu_count() or 1) - 1)

    @property
    def postmaster_forward_address(self) -> str | None:
        """POSTMASTER_ADDRESS, or SUPPORT_EMAIL: where mail for postmaster is forwarded."""
        return self.postmaster_address or self.support_email

    @property
    def mail_hostname(self) -> str:
        return self.smtp_hostname or self.mail_domain

    @property
    def polar_success_redirect(self) -> str:
        """POLAR_SUCCESS_URL, or our own success page; Polar fills in {CHECKOUT_ID}."""
        default = f"{self.public_base_url}/v1/payments/polar/success?checkout_id={{CHECKOUT_ID}}"
        return self.polar_success_url or default

    @property
    def polar_return_redirect(self) -> str:
        return self.polar_return_url or self.public_base_url

    @property
    def stripe_success_redirect(self) -> str:
        """STRIPE_SUCCESS_URL, or our own success page; Stripe fills in {CHECKOUT_SESSION_ID}."""
        default = f"{self.public_base_url}/payment/success?session_id={{CHECKOUT_SESSION_ID}}"
        return self.stripe_success_url or default

    @property
    def stripe_cancel_redirect(self) -> str:
        return self.stripe_cancel_url or f"{self.public_base_url}/payment/cancel"

    @property
    def landing_cache_token(self) -> str:
        return self.cache_buster or self.build_number or "dev"


def parse_listen_address(value: str, setting: str) -> tuple[str, int]:
    """`:8080`, `127.0.0.1:8080` or `[::1]:8080` -> (host, port); an empty host means every interface."""
    host, separator, port_text = value.strip().rpartition(":")
    if not separator or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{setting} must look like host:port or :port, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)
