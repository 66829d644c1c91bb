from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mailservice.adapters.db.dsn import async_database_url
from mailservice.adapters.dev_secret import load_secret
from mailservice.bootstrap import _HttpServer, tls_context, with_development_tls
from mailservice.config import Settings, parse_listen_address
from mailservice.domain.errors import ConfigurationError


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(":8080", ("0.0.0.0", 8080)), ("127.0.0.1:25", ("127.0.0.1", 25)), ("[::1]:143", ("::1", 143))],
)
def test_listen_addresses_parse(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(value, "HTTP_ADDR") == expected


@pytest.mark.parametrize("value", ["8080", "host:", ":99999", "host:http"])
def test_bad_listen_address_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="HTTP_ADDR"):
        parse_listen_address(value, "HTTP_ADDR")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("data/mailservice.db", "sqlite+aiosqlite:///data/mailservice.db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgres://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_dsn_maps_to_async_driver(dsn: str, expected: str) -> None:
    assert async_database_url(dsn).render_as_string() == expected


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        async_database_url("mysql://u@h/db")


def test_secret_key_shorter_than_32_bytes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        load_secret(settings(tmp_path, secret_key="short"))


def test_production_without_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="required"):
        load_secret(settings(tmp_path, mailservice_env="production"))


def test_development_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_secret(settings(tmp_path))

    assert load_secret(settings(tmp_path)) == first
    assert len(first) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_edproof_hmac_secret_is_an_alias_of_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDPROOF_HMAC_SECRET", "s" * 40)

    assert load_secret(settings(tmp_path)) == b"s" * 40


def test_imap_and_pop3_listen_on_dev_ports_in_development_and_standard_ports_in_production(
    tmp_path: Path,
) -> None:
    development = settings(tmp_path)
    production = settings(tmp_path, mailservice_env="production")
    assert (development.imap_listen_addr, development.imaps_listen_addr) == (":1143", ":1993")
    assert (production.imap_listen_addr, production.imaps_listen_addr) == (":143", ":993")
    assert (development.pop3_listen_addr, development.pop3s_listen_addr) == (":1110", ":1995")
    assert (production.pop3_listen_addr, production.pop3s_listen_addr) == (":110", ":995")
    assert (development.advertised_imap_port, production.advertised_imap_port) == (1143, 143)
    assert settings(tmp_path, imap_port=10143).advertised_imap_port == 10143
    assert (development.plaintext_auth_allowed, production.plaintext_auth_allowed) == (True, False)


def test_dev_tls_makes_a_certificate_once_and_reuses_it(tmp_path: Path) -> None:
    first = with_development_tls(settings(tmp_path, mail_domain="agents.test"))
    second = with_development_tls(settings(tmp_path, mail_domain="agents.test"))
    assert first.tls_cert_file is not None and first.tls_key_file is not None
    assert second.tls_cert_file == first.tls_cert_file
    assert second.tls_cert_file.read_bytes() == first.tls_cert_file.read_bytes()
    assert stat.S_IMODE(first.tls_key_file.stat().st_mode) == 0o600
    assert tls_context(first) is not None


def test_dev_tls_is_refused_in_production_and_beside_a_configured_certificate(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="local use"):
        with_development_tls(settings(tmp_path, mailservice_env="production"))
    with pytest.raises(ConfigurationError, match="cannot be combined"):
        with_development_tls(settings(tmp_path, tls_cert_file=tmp_path / "cert.pem"))


def test_public_base_url_follows_the_http_port_unless_set(tmp_path: Path) -> None:
    assert settings(tmp_path).public_base_url == "http://localhost:8080"
    assert settings(tmp_path, http_addr=":18080").public_base_url == "http://localhost:18080"
    explicit = settings(tmp_path, http_addr=":18080", public_base_url="https://mail.example.com/")
    assert explicit.public_base_url == "https://mail.example.com"


def test_forwarded_allow_ips_is_read_from_dot_env_too(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("FORWARDED_ALLOW_IPS=10.0.0.7\n", encoding="utf-8")
    configured = Settings(_env_file=env_file, data_dir=tmp_path)

    assert _HttpServer(FastAPI(), configured).config.forwarded_allow_ips == "10.0.0.7"


def test_development_tells_clients_to_connect_to_localhost(tmp_path: Path) -> None:
    assert settings(tmp_path).advertised_imap_host == "localhost"


def test_production_tells_clients_to_connect_to_the_mail_domain(tmp_path: Path) -> None:
    production = settings(tmp_path, mailservice_env="production", mail_domain="Mail.Example.COM")

    assert production.advertised_imap_host == "mail.example.com"


def test_a_configured_imap_host_is_handed_out_as_it_is(tmp_path: Path) -> None:
    assert settings(tmp_path, imap_host="imap.example.net").advertised_imap_host == "imap.example.net"


def test_retention_defaults_keep_mail_and_make_room_from_read_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings(_env_file=None)
    monkeypatch.setenv("RETENTION_MAX_AGE_DAYS", "30")
    monkeypatch.setenv("RETENTION_DELETE_OLDEST_READ", "false")
    configured = Settings(_env_file=None)

    assert (defaults.retention_max_age_days, defaults.retention_delete_oldest_read) == (0, True)
    assert (configured.retention_max_age_days, configured.retention_delete_oldest_read) == (30, False)


@pytest.mark.parametrize("days", ["-1", "36501", "ten"])
def test_a_retention_age_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch, days: str) -> None:
    monkeypatch.setenv("RETENTION_MAX_AGE_DAYS", days)

    with pytest.raises(ValueError, match="retention_max_age_days"):
        Settings(_env_file=None)
